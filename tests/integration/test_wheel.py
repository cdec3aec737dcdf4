"""A wheel built from the tree, installed into a fresh venv, works on its own: the schema
and the seccomp profile travel as package data, and nothing reaches back into the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.native_helpers import REPO, require_host

pytestmark = pytest.mark.integration

STACK = """\
version: 1
name: wheelcheck
images:
  bb: {oci: ../images/busybox}
containers:
  one: {image: bb, command: ["sleep", "1"]}
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `reconcile` script of a fresh venv that has only the wheel and its deps."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: building must not write into the checkout
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "examples"))
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist",
                source, cwd=work)
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list((work / "dist").glob("reconcile-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    assert run(sys.executable, "-m", "venv", venv, cwd=work).returncode == 0
    done = run(venv / "bin" / "pip", "install", "-q", wheels[0], cwd=work)
    assert done.returncode == 0, done.stderr[-2000:]
    yield venv / "bin" / "reconcile"
    shutil.rmtree(work, ignore_errors=True)


def clean_env() -> dict[str, str]:
    """No PYTHONPATH: the installed package must be the one that runs."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def test_the_installed_package_is_not_the_tree(installed: Path, tmp_path: Path) -> None:
    python = installed.with_name("python")
    where = run(python, "-c", "import reconciler; print(reconciler.__file__)", cwd=tmp_path,
                env=clean_env())
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout and str(REPO) not in where.stdout


def test_help_validate_and_plan_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    require_host()  # plan observes the host through the native driver
    env = clean_env()
    helped = run(installed, "--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0 and "validate" in helped.stdout
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples, ignore=shutil.ignore_patterns("images"))
    image = run(sys.executable, REPO / "scripts" / "make-busybox-image.py",
                examples / "images" / "busybox", cwd=tmp_path)
    assert image.returncode == 0, image.stderr
    valid = run(installed, "validate", examples / "stacks", cwd=tmp_path, env=env)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    bad = examples / "stacks" / "bad.yaml"
    bad.write_text(STACK.replace("command:", "comand:"))
    invalid = run(installed, "validate", bad, cwd=tmp_path, env=env)
    assert invalid.returncode == 3
    assert "bad.yaml:6:" in invalid.stderr and "command" in invalid.stderr  # did-you-mean
    planned = run(installed, "--state-dir", tmp_path / "state", "plan", "-o", "json",
                  examples / "stacks" / "shop.yaml", cwd=tmp_path, env=env)
    assert planned.returncode == 0, planned.stderr
    assert '"create"' in planned.stdout and "shop-web" in planned.stdout
