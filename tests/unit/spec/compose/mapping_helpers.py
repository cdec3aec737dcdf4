"""A Compose project from one YAML text through the Compose loader, as the mapping's
input."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.located import StackOut
from reconciler.spec.compose.project import ComposeOptions, ComposeProject
from reconciler.spec.compose.to_stack import compose_to_stack


def project(tmp_path: Path, text: str, name: str = "compose.yaml") -> ComposeProject:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_compose([path], ComposeOptions(project_name="proj", environ={}))


def mapped(tmp_path: Path, text: str) -> StackOut:
    return compose_to_stack(project(tmp_path, text))


def service(tmp_path: Path, body: str, name: str = "web") -> tuple[dict[str, Any], StackOut]:
    """Map one service written as the indented body under `services: web:`."""
    text = "services:\n  web:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    out = compose_to_stack(project(tmp_path, text))
    return out.data["containers"][name], out


def messages(out: StackOut) -> list[str]:
    return [f"{p.line}:{p.column} {p.severity} {p.message}" for p in out.errors + out.warnings]
