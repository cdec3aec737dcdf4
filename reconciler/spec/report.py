"""Validation results as data: `validate -o json` and `validate -o sarif` (SARIF 2.1.0, for
code-scanning UIs that annotate the line and column of a bad stack). Pure: the caller
passes the working directory that artifact URIs are made relative to.

Rules: a problem carries no rule of its own, so results are grouped by severity: every
error is `invalid-stack` (the input is refused, exit 3), every warning `risky-setting`
(allowed, but it hands the container part of the host; docs/security.md).
"""

from __future__ import annotations

import json
import os.path
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from reconciler.model.desired import Desired
from reconciler.model.errors import Problem

FORMAT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULES = (
    {"id": "invalid-stack", "name": "InvalidStack",
     "shortDescription": {"text": "The stack file is invalid; nothing is applied."},
     "defaultConfiguration": {"level": "error"}},
    {"id": "risky-setting", "name": "RiskySetting",
     "shortDescription": {"text": "Allowed, but it gives the container part of the host."},
     "defaultConfiguration": {"level": "warning"}},
)
_RULE_OF = {"error": 0, "warning": 1}


def _problem(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "column": p.column, "severity": p.severity,
            "message": p.one_line}


def validation_json(desired: Desired | None, problems: Sequence[Problem]) -> str:
    """`desired`: the loaded stacks (None when the input was refused)."""
    errors = sum(p.severity == "error" for p in problems)
    stacks = [] if desired is None else [
        {"name": s.name, "file": s.source, "containers": len(s.containers)}
        for s in desired.stacks]
    doc = {
        "format_version": FORMAT_VERSION,
        "valid": errors == 0,
        "stacks": stacks,
        "problems": [_problem(p) for p in sorted(problems)],
        "summary": {"errors": errors, "warnings": len(problems) - errors},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def artifact_uri(file: str, cwd: Path) -> str:
    """Relative to `cwd` when the file is below it (what code-scanning UIs resolve against
    the checkout), else an absolute file URI."""
    path = Path(file)
    if not path.is_absolute():
        return quote(PurePosixPath(path).as_posix())
    relative = os.path.relpath(path, cwd)
    if not relative.startswith(".."):
        return quote(PurePosixPath(Path(relative)).as_posix())
    return "file://" + quote(path.as_posix())


def _result(p: Problem, cwd: Path) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(p.file, cwd)}}
    if p.line > 0:  # 0: the file as a whole (missing, unreadable)
        location["region"] = {"startLine": p.line, "startColumn": max(p.column, 1)}
    rule = _RULE_OF[p.severity]
    return {"ruleId": RULES[rule]["id"], "ruleIndex": rule, "level": p.severity,
            "message": {"text": p.one_line}, "locations": [{"physicalLocation": location}]}


def validation_sarif(problems: Sequence[Problem], cwd: Path, version: str) -> str:
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "reconcile", "version": version,
                                "rules": [dict(r) for r in RULES]}},
            "columnKind": "unicodeCodePoints",
            "results": [_result(p, cwd) for p in sorted(problems)],
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
