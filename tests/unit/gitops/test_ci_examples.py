"""The example pipelines of examples/ci/ run as written: the `run:` steps of the GitHub
Actions workflow, the `script:` lines of the GitLab CI file and the post-receive hook are
executed with bash against a temporary git repository, `reconcile` on PATH being the CLI
with an in-memory host kept in a file between commands (tests/ci_host.py). The same
pipelines run on the native driver in tests/integration/test_ci_examples_native.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.ci_pipelines import (
    PULL_REQUEST,
    PUSH_TO_MAIN,
    ROOT,
    PipelineHost,
    git,
    new_repo,
    run_github,
    run_gitlab,
)

STACK = 'version: 1\nname: shop\ncontainers:\n  web: {image: "registry.local:5000/a/web:1"}\n'


def fake_host(tmp: Path) -> PipelineHost:
    return PipelineHost(tmp, f'#!/bin/sh\nexec "{sys.executable}" -m tests.ci_host "$@"\n',
                        {"PYTHONPATH": str(ROOT), "RECONCILE_FAKE_HOST": str(tmp / "host.pickle"),
                         "RECONCILE_FAKE_STATE": str(tmp / "state")})


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "work", STACK)


def test_github_pull_request_comments_the_plan_and_changes_nothing(
        tmp_path: Path, repo: Path) -> None:
    host = fake_host(tmp_path)
    assert run_github(host, repo, PULL_REQUEST) == ["validate", "plan", "comment"]
    assert "pr comment 7 --edit-last --body-file plan.md" in (tmp_path / "gh.log").read_text()
    comment = (tmp_path / "comment.md").read_text()
    assert comment.startswith("### reconcile plan") and "`shop-web`" in comment
    assert json.loads((repo / "reconcile.sarif").read_text())["version"] == "2.1.0"
    assert host.ps() == []


def test_github_push_to_main_applies_the_saved_plan(tmp_path: Path, repo: Path) -> None:
    host = fake_host(tmp_path)
    assert run_github(host, repo, PUSH_TO_MAIN) == ["validate", "plan", "apply"]
    rows = host.ps()
    assert [(r["name"], r["commit"]) for r in rows] == [("shop-web", git(repo, "rev-parse",
                                                                         "HEAD"))]
    # the same saved plan again is stale: the host moved
    done = host.sh("reconcile apply --plan plan.json", repo)
    assert done.returncode == 1 and "shop-web is new" in done.stderr


def test_gitlab_merge_request_plans_and_main_applies(tmp_path: Path, repo: Path) -> None:
    host = fake_host(tmp_path)
    assert run_gitlab(host, repo, "feature") == ["validate", "plan"]
    assert host.ps() == []
    assert run_gitlab(host, repo, "main") == ["validate", "plan", "apply"]
    assert [r["name"] for r in host.ps()] == ["shop-web"]


def test_post_receive_hook_deploys_a_push_to_main(tmp_path: Path, repo: Path) -> None:
    host = fake_host(tmp_path)
    bare = tmp_path / "stacks.git"
    host.install_hook(bare, "post-receive")
    checkout = tmp_path / "checkout"
    push = host.sh(f"git push -q {bare} main", repo, RECONCILE_CHECKOUT=str(checkout))
    assert push.returncode == 0, push.stderr
    assert "reconcile: deploying" in push.stderr
    first = git(repo, "rev-parse", "HEAD")
    assert [(r["name"], r["commit"]) for r in host.ps()] == [("shop-web", first)]
    # a second push: a bad stack is not applied, the host keeps what ran
    (repo / "stacks" / "shop.yaml").write_text(STACK.replace("image:", "imagee:"))
    git(repo, "commit", "-qam", "typo")
    push = host.sh(f"git push -q {bare} main", repo, RECONCILE_CHECKOUT=str(checkout))
    assert "did you mean `image`?" in push.stderr
    assert [(r["name"], r["commit"]) for r in host.ps()] == [("shop-web", first)]
