"""Parity with Compose v2: every project of the corpus is loaded by reconcile and by the real
Compose binary (`config --format json`, no engine needed); the fields both understand must
agree. Under CI=true a missing Compose binary fails (tests/requirements.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions
from tests.unit.spec.compose.corpus import CASES, Case
from tests.unit.spec.compose.oracle import comparable, compose_config


def _write(folder: Path, case: Case) -> None:
    for name, text in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reconcile_reads_the_project_as_compose_does(tmp_path: Path, case: Case) -> None:
    folder = tmp_path / case.name
    folder.mkdir()
    _write(folder, case)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **case.env}
    theirs = compose_config(folder, case.compose, env, case.profiles)
    project = load_compose([folder / f for f in case.compose],
                           ComposeOptions(environ=env, profiles=case.profiles))
    assert [p for p in project.problems if p.severity == "error"] == []
    env_files = frozenset(name for name, service in project.data["services"].items()
                          if "env_file" in service)
    assert (comparable(project.data, compose=False, env_files=env_files)
            == comparable(theirs, compose=True, env_files=env_files))


def test_the_corpus_covers_enough_projects() -> None:
    assert len(CASES) >= 40
