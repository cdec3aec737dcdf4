"""`reconcile convert`: the stack file equivalent to a Compose project, as YAML text.

The input goes through every check `validate` runs first, so what is printed validates
and plans like the Compose file itself (a test compares the plans). Relative paths stay
relative to the project folder: save the output next to the first Compose file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from reconciler.model.errors import Problem, SpecError
from reconciler.spec.compose.entry import ComposeRequest, load_compose_file
from reconciler.spec.schema_check import check_schema
from reconciler.spec.semantic import check_file


def convert(files: list[Path], request: ComposeRequest) -> tuple[str, list[Problem]]:
    """(stack YAML, warnings); raises SpecError when the project is not valid input."""
    loaded = load_compose_file(files, request)
    problems = list(loaded.problems)
    if not problems:
        problems = check_schema(loaded)
    if not problems:
        problems = check_file(loaded)[0]
    if problems:
        raise SpecError(problems)
    names = ", ".join(f.name for f in files)
    head = (f"# The stack equivalent to {names} (made by `reconcile convert`); relative paths "
            "start from\n# the project folder, so keep this file there.\n")
    data = _relative(_plain(loaded.data), str(loaded.path.absolute().parent))
    return head + yaml.dump(data, Dumper=_Dumper, sort_keys=False,
                            allow_unicode=True, width=100), loaded.warnings


def _plain(value: Any) -> Any:
    """Dicts and lists only (the mapping may share objects: no YAML anchors in the output)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _relative(data: dict[str, Any], folder: str) -> dict[str, Any]:
    """The loader makes the paths Compose resolves absolute; those inside the project folder
    go back to `./...`, so the stack file stays right in another checkout."""

    def short(path: str) -> str:
        inside = path.startswith(folder + os.sep)
        return "./" + os.path.relpath(path, folder) if inside else path

    for spec in (data.get("containers") or {}).values():
        for mount in spec.get("volumes") or []:
            if mount.get("type") == "bind":
                mount["source"] = short(mount["source"])
        for secret in spec.get("secrets") or []:
            secret["source"] = short(secret["source"])
        if "env_file" in spec:
            spec["env_file"] = [{**f, "path": short(f["path"])} if isinstance(f, dict)
                                else short(f) for f in spec["env_file"]]
    return data


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True
