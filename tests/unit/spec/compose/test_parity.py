"""Parity with Compose v2: every project of the corpus is loaded by reconcile and by the real
Compose binary (`config --format json`, no engine needed); the fields both understand must
agree, and input Compose refuses reconcile refuses too. Under CI=true a missing Compose
binary fails (tests/requirements.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions, ComposeProject
from tests.unit.spec.compose.corpus import Case
from tests.unit.spec.compose.corpus_more import CASES, ERROR_CASES
from tests.unit.spec.compose.oracle import comparable, compose_config, run_compose_config


def _prepare(tmp_path: Path, case: Case) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "p" / case.name
    for name, text in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    folder = folder / case.folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **case.env}


def _ours(folder: Path, case: Case, env: dict[str, str]) -> ComposeProject:
    options = ComposeOptions(environ=env, profiles=case.profiles,
                             env_files=tuple(folder / f for f in case.env_files))
    if not case.discover:
        return load_compose([folder / f for f in case.compose], options)
    here = Path.cwd()
    os.chdir(folder)  # no -f: the files are found from the working folder, as Compose does
    try:
        return load_compose([], options)
    finally:
        os.chdir(here)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reconcile_reads_the_project_as_compose_does(tmp_path: Path, case: Case) -> None:
    folder, env = _prepare(tmp_path, case)
    theirs = compose_config(folder, case.compose, env, case.profiles, case.env_files)
    project = _ours(folder, case, env)
    assert [p for p in project.problems if p.severity == "error"] == []
    env_files = frozenset(name for name, service in project.data["services"].items()
                          if "env_file" in service)
    assert (comparable(project.data, compose=False, env_files=env_files)
            == comparable(theirs, compose=True, env_files=env_files))


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.name for c in ERROR_CASES])
def test_reconcile_refuses_what_compose_refuses(tmp_path: Path, case: Case) -> None:
    folder, env = _prepare(tmp_path, case)
    run = run_compose_config(folder, case.compose, env, case.profiles, case.env_files)
    assert run.returncode != 0, "Compose accepts this case: it does not belong here"
    errors = [p for p in _ours(folder, case, env).problems if p.severity == "error"]
    assert errors, "reconcile accepted what Compose refuses"
    assert all(p.file and p.file != "." for p in errors)
    assert any(p.line > 0 for p in errors) or case.name.startswith("invalid-project-name")


def test_the_corpus_covers_enough_projects() -> None:
    assert len(CASES) >= 40
