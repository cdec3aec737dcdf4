"""The example pipelines of examples/ci/ run as written: the `run:` steps of the GitHub
Actions workflow, the `script:` lines of the GitLab CI file and the post-receive hook are
executed with bash against a temporary git repository, `reconcile` on PATH being the CLI
with an in-memory host kept in a file between commands (tests/ci_host.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CI = ROOT / "examples" / "ci"
STACK = 'version: 1\nname: shop\ncontainers:\n  web: {image: "registry.local:5000/a/web:1"}\n'


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=ci", "-c",
                           "user.email=ci@example.invalid", *argv],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


class Host:
    """PATH with `reconcile` (the CLI on the fake host) and `gh` (records its arguments)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "reconcile").write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -m tests.ci_host "$@"\n')
        (bin_dir / "gh").write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{tmp}/gh.log"\ncp "$5" "{tmp}/comment.md"\n')
        for tool in bin_dir.iterdir():
            tool.chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
                    "PYTHONPATH": str(ROOT), "RECONCILE_FAKE_HOST": str(tmp / "host.pickle"),
                    "RECONCILE_FAKE_STATE": str(tmp / "state")}

    def sh(self, script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, text=True,
                              capture_output=True, env={**self.env, **env}, check=False)

    def ps(self) -> list[dict[str, Any]]:
        done = self.sh("reconcile ps -o json", self.tmp)
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, Any]] = json.loads(done.stdout)
        return rows


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "stacks").mkdir(parents=True)
    (work / "stacks" / "shop.yaml").write_text(STACK)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "shop")
    return work


# -- GitHub Actions ---------------------------------------------------------------------

def _github_if(condition: str, context: dict[str, str]) -> bool:
    """The conditions the example uses: always(), and `a == 'b'` joined by &&."""
    if condition.strip() == "always()":
        return True
    for part in condition.split("&&"):
        name, _, value = part.partition("==")
        if context.get(name.strip()) != value.strip().strip("'"):
            return False
    return True


def _github_expand(text: str, context: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: context.get(m.group(1), ""), text)


def _run_github(host: Host, repo: Path, context: dict[str, str]) -> list[str]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    ran = []
    for step in workflow["jobs"]["reconcile"]["steps"]:
        if "run" not in step or ("if" in step and not _github_if(step["if"], context)):
            continue
        env = {k: _github_expand(str(v), context) for k, v in (step.get("env") or {}).items()}
        done = host.sh(_github_expand(step["run"], context), repo, **env)
        assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
        ran.append(step["name"])
    return ran


def test_github_pull_request_comments_the_plan_and_changes_nothing(
        tmp_path: Path, repo: Path) -> None:
    host = Host(tmp_path)
    context = {"github.event_name": "pull_request", "github.ref": "refs/pull/7/merge",
               "github.event.number": "7"}
    assert _run_github(host, repo, context) == ["validate", "plan", "comment"]
    assert "pr comment 7 --edit-last --body-file plan.md" in (tmp_path / "gh.log").read_text()
    comment = (tmp_path / "comment.md").read_text()
    assert comment.startswith("### reconcile plan") and "`shop-web`" in comment
    assert json.loads((repo / "reconcile.sarif").read_text())["version"] == "2.1.0"
    assert host.ps() == []


def test_github_push_to_main_applies_the_saved_plan(tmp_path: Path, repo: Path) -> None:
    host = Host(tmp_path)
    context = {"github.event_name": "push", "github.ref": "refs/heads/main"}
    assert _run_github(host, repo, context) == ["validate", "plan", "apply"]
    rows = host.ps()
    assert [(r["name"], r["commit"]) for r in rows] == [("shop-web", git(repo, "rev-parse",
                                                                         "HEAD"))]
    # the same saved plan again is stale: the host moved
    done = host.sh("reconcile apply --plan plan.json", repo)
    assert done.returncode == 1 and "shop-web is new" in done.stderr


# -- GitLab CI --------------------------------------------------------------------------

def _gitlab_if(condition: str, env: dict[str, str]) -> bool:
    """The rule the example uses: `$A == $B` on CI variables."""
    left, _, right = (side.strip().lstrip("$") for side in condition.partition("=="))
    return env.get(left) == env.get(right)


def _run_gitlab(host: Host, repo: Path, branch: str) -> list[str]:
    pipeline = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    env = {"CI_COMMIT_BRANCH": branch, "CI_DEFAULT_BRANCH": "main"}
    ran = []
    for stage in pipeline["stages"]:
        for name, job in pipeline.items():
            if not isinstance(job, dict) or job.get("stage") != stage:
                continue
            rules = job.get("rules")
            if rules and not any(_gitlab_if(rule["if"], env) for rule in rules):
                continue
            done = host.sh("\n".join(job["script"]), repo, **env)
            assert done.returncode == 0, (name, done.stdout, done.stderr)
            ran.append(name)
    return ran


def test_gitlab_merge_request_plans_and_main_applies(tmp_path: Path, repo: Path) -> None:
    host = Host(tmp_path)
    assert _run_gitlab(host, repo, "feature") == ["validate", "plan"]
    assert host.ps() == []
    assert _run_gitlab(host, repo, "main") == ["validate", "plan", "apply"]
    assert [r["name"] for r in host.ps()] == ["shop-web"]


# -- post-receive -----------------------------------------------------------------------

def test_post_receive_hook_deploys_a_push_to_main(tmp_path: Path, repo: Path) -> None:
    host = Host(tmp_path)
    bare = tmp_path / "stacks.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    hook = bare / "hooks" / "post-receive"
    hook.write_bytes((CI / "post-receive").read_bytes())
    hook.chmod(0o755)
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
