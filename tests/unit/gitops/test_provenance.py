"""Provenance: every container records its stack file and, from git, the commit; `inspect`
and `ps -o json` show them; a new commit that changes nothing replaces nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.spec.provenance import git_commit
from tests.fakes import InMemoryDriver

STACK = 'version: 1\nname: shop\ncontainers:\n  web: {image: "registry.local:5000/a/web:1"}\n'


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=ci", "-c",
                           "user.email=ci@example.invalid", *argv],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, driver: InMemoryDriver,
         *argv: str) -> str:
    assert main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver) == 0
    return capsys.readouterr().out


def test_commit_is_recorded_shown_and_never_replaces(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    stack = repo / "stacks" / "shop.yaml"
    stack.write_text(STACK)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add shop")
    first = git(repo, "rev-parse", "HEAD")
    driver = InMemoryDriver()
    _run(capsys, tmp_path, driver, "apply", str(stack))
    rows = json.loads(_run(capsys, tmp_path, driver, "ps", "-o", "json"))
    assert (rows[0]["source"], rows[0]["commit"]) == (str(stack), first)
    shown = json.loads(_run(capsys, tmp_path, driver, "inspect", "shop/web"))
    assert shown["provenance"] == {"source": str(stack), "commit": first}

    git(repo, "commit", "-q", "--allow-empty", "-m", "unrelated")
    assert "No changes." in _run(capsys, tmp_path, driver, "plan", str(stack))


def test_no_commit_outside_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "shop.yaml"
    stack.write_text(STACK)
    assert git_commit(tmp_path) == ""
    driver = InMemoryDriver()
    _run(capsys, tmp_path, driver, "apply", str(stack))
    rows = json.loads(_run(capsys, tmp_path, driver, "ps", "-o", "json"))
    assert (rows[0]["source"], rows[0]["commit"]) == (str(stack), None)


def test_a_repository_without_commits_has_no_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) == ""


def test_no_git_process_where_no_folder_holds_a_git_dir(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a) or run(*a, **k))
    folder = tmp_path / "stacks" / "deep"
    folder.mkdir(parents=True)
    assert git_commit(folder) == "" and started == []  # nothing up to / is a repository
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    assert git_commit(folder) == git(tmp_path, "rev-parse", "HEAD") and started  # git asked
