"""Every dataclass of the stages a `plan` imports (model, spec, planner, and the driver
modules it reads: drivers/base.py, the runc state) has a docstring.

On Python 3.11 a dataclass without one gets `inspect.signature` text as its `__doc__` at
class creation (~0.5 ms a class): the plan of a 500-service Compose file imports ~60 of them
(bench/REPORT.md, issue 15). This check keeps new ones there from paying it again (the
other stages' dataclasses are not on that path).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
STAGES = ("model", "spec", "planner")
PLAN_PATH_MODULES = ("drivers/base.py", "drivers/native/container/runtime.py")


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id in ("dataclass", "record"):
            return True
        if isinstance(target, ast.Attribute) and target.attr == "dataclass":
            return True
    return False


def _undocumented(source: str, where: str) -> list[str]:
    return [
        f"{where}:{node.lineno} {node.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef) and _is_dataclass(node)
        and ast.get_docstring(node) is None
    ]


def test_every_dataclass_has_a_docstring() -> None:
    files = sorted(path for stage in STAGES for path in (PACKAGE / stage).rglob("*.py"))
    assert len(files) > 50  # the walk found the stages' modules
    files += [PACKAGE / module for module in PLAN_PATH_MODULES]
    missing = [entry for path in files for entry in _undocumented(path.read_text(), path.name)]
    assert missing == []


def test_the_check_sees_a_dataclass_without_one() -> None:
    source = (
        "import dataclasses\n"
        "@dataclasses.dataclass(frozen=True)\nclass A:\n    x: int\n"
        "@dataclasses.dataclass\nclass B:\n    'Documented.'\n"
        "class C:\n    x: int\n"
        "@record(frozen=True)\nclass D:\n    x: int\n"
    )
    assert _undocumented(source, "m.py") == ["m.py:3 A", "m.py:11 D"]
