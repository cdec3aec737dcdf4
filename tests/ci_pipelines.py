"""Run the example pipelines of examples/ci/ as written: the `run:` steps of the GitHub
Actions workflow and the `script:` lines of the GitLab CI file, with bash, on a PATH whose
`reconcile` is a given wrapper (the CLI on an in-memory host in the unit tests, the real
CLI on the native driver in the integration tests) and whose `gh` records the comment."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "examples" / "ci"


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=ci", "-c",
                           "user.email=ci@example.invalid", *argv],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def new_repo(work: Path, stack: str, name: str = "shop.yaml") -> Path:
    """A git work tree with one commit: `stacks/<name>`."""
    (work / "stacks").mkdir(parents=True)
    (work / "stacks" / name).write_text(stack)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "shop")
    return work


class PipelineHost:
    """PATH with `reconcile` (the `reconcile` wrapper script given) and `gh`."""

    def __init__(self, tmp: Path, reconcile: str, env: dict[str, str]) -> None:
        self.tmp = tmp
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "reconcile").write_text(reconcile)
        (bin_dir / "gh").write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{tmp}/gh.log"\ncp "$5" "{tmp}/comment.md"\n')
        for tool in bin_dir.iterdir():
            tool.chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env}

    def sh(self, script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, text=True,
                              capture_output=True, env={**self.env, **env}, check=False,
                              timeout=300)

    def ps(self) -> list[dict[str, Any]]:
        done = self.sh("reconcile ps -o json", self.tmp)
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, Any]] = json.loads(done.stdout)
        return rows

    def install_hook(self, bare: Path, example: str) -> None:
        """A bare repository at `bare` with examples/ci/<example> as its post-receive."""
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        hook = bare / "hooks" / "post-receive"
        hook.write_bytes((CI / example).read_bytes())
        hook.chmod(0o755)


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


def run_github(host: PipelineHost, repo: Path, context: dict[str, str]) -> list[str]:
    """The workflow's `run:` steps whose `if:` holds in `context`; their names."""
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


PULL_REQUEST = {"github.event_name": "pull_request", "github.ref": "refs/pull/7/merge",
                "github.event.number": "7"}
PUSH_TO_MAIN = {"github.event_name": "push", "github.ref": "refs/heads/main"}


# -- GitLab CI --------------------------------------------------------------------------

def _gitlab_if(condition: str, env: dict[str, str]) -> bool:
    """The rule the example uses: `$A == $B` on CI variables."""
    left, _, right = (side.strip().lstrip("$") for side in condition.partition("=="))
    return env.get(left) == env.get(right)


def run_gitlab(host: PipelineHost, repo: Path, branch: str) -> list[str]:
    """The pipeline's jobs, stage by stage, whose rules hold on `branch`; their names."""
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
