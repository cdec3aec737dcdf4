"""The import contracts (.importlinter) hold for the tree, and they do fail when broken:
a copy of the package with one deliberate upward import is refused, naming the contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.requirements import need

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    need(LINT.exists(), "lint-imports (import-linter) is not installed")
    return subprocess.run([str(LINT), str(tree / ".importlinter"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "300"})


def copy_of_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "reconciler", tree / "reconciler",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def add_import(module: Path, statement: str) -> None:
    text = module.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    module.write_text(head + sep + statement + "\n" + rest)


def test_the_tree_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "statement", "contract"), [
    ("planner/plan.py", "import reconciler.engine.execute  # noqa",
     "Stages import only downwards"),
    ("planner/render.py", "import subprocess  # noqa", "The planner does no I/O"),
    ("engine/execute.py", "import reconciler.drivers.native.driver  # noqa",
     "no stage reaches into a driver"),
    ("drivers/base.py", "import reconciler.spec.units  # noqa", "Stages import only downwards"),
    ("model/desired.py", "import reconciler.support.pids  # noqa",
     "Stages import only downwards"),
    ("spec/units.py", "import reconciler.spec.stacks  # noqa", "No import cycles"),
])
def test_a_deliberate_violation_fails(tmp_path: Path, module: str, statement: str,
                                      contract: str) -> None:
    tree = copy_of_tree(tmp_path)
    add_import(tree / "reconciler" / module, statement)
    result = lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert len(broken) >= 1 and any(contract in line for line in broken), result.stdout
