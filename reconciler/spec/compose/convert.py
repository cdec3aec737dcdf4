"""`reconcile convert`: the stack file equivalent to a Compose project, as YAML text.

The input goes through every check `validate` runs first, so what is printed validates
and plans like the Compose file itself (a test compares the plans). Relative paths stay
relative to the project folder: save the output next to the first Compose file.
"""

from __future__ import annotations

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
    return head + yaml.dump(_plain(loaded.data), Dumper=_Dumper, sort_keys=False,
                            allow_unicode=True, width=100), loaded.warnings


def _plain(value: Any) -> Any:
    """Dicts and lists only (the mapping may share objects: no YAML anchors in the output)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True
