"""The example pipelines of examples/ci/ run as written against the native driver: real
containers (runc), the real CLI on a temporary state dir, real git repositories. The
GitHub Actions `run:` steps (a pull request, then a push to main), the GitLab jobs (a
feature branch, then main), the `post-receive` hook (a push applies the reviewed plan) and
the `post-receive-sync` hook (a push wakes a running `reconcile sync` through its
webhook). Everything made is taken down and checked for leaks."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from tests.integration.native_helpers import find_leaks, require_host, wait_for
from tests.netutil import free_port

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]

STACK = """\
version: 1
name: {name}
images:
  bb: {{oci: {image}}}
containers:
  web:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    env: {{VERSION: "{version}"}}
"""


@dataclass
class NativeCI:
    host: PipelineHost
    repo: Path
    state: Path
    name: str
    image: Path

    def stack(self, version: str = "1") -> str:
        return STACK.format(name=self.name, image=self.image, version=version)

    def web(self) -> dict[str, Any]:
        rows = {r["name"]: r for r in self.host.ps()}
        return rows.get(f"{self.name}-web") or {}

    def head(self) -> str:
        return git(self.repo, "rev-parse", "HEAD")

    def commit(self, text: str, message: str) -> str:
        (self.repo / "stacks" / "app.yaml").write_text(text)
        git(self.repo, "commit", "-qam", message)
        return self.head()


def alive(pid: int | None) -> bool:
    return pid is not None and os.path.exists(f"/proc/{pid}")


@pytest.fixture()
def ci(tmp_path: Path) -> Iterator[NativeCI]:
    require_host()
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(ROOT / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    state = tmp_path / "state"
    wrapper = f'#!/bin/sh\nexec "{sys.executable}" -m reconciler.cli --state-dir "{state}" "$@"\n'
    host = PipelineHost(tmp_path, wrapper, {"PYTHONPATH": str(ROOT)})
    name = f"ci{os.getpid() % 1000}{random.randrange(1000)}"
    repo = new_repo(tmp_path / "work", STACK.format(name=name, image=image, version="1"),
                    name="app.yaml")
    made = NativeCI(host, repo, state, name, image)
    try:
        yield made
    finally:
        from reconciler.drivers.native.driver import NativeDriver

        driver = NativeDriver(state)
        owned = {c.name for c in driver.observe().containers}
        host.sh(f"reconcile down {name}", tmp_path)
        assert find_leaks(driver, owned | {f"{name}-web"}) == []


def test_github_workflow_plans_a_pull_request_and_applies_on_main(ci: NativeCI) -> None:
    assert run_github(ci.host, ci.repo, PULL_REQUEST) == ["validate", "plan", "comment"]
    comment = (ci.host.tmp / "comment.md").read_text()
    assert comment.startswith("### reconcile plan") and f"`{ci.name}-web`" in comment
    assert "**Plan: 1 to create, 0 to replace, 0 to remove" in comment
    assert json.loads((ci.repo / "reconcile.sarif").read_text())["version"] == "2.1.0"
    assert ci.web() == {}  # a pull request changes nothing on the host

    assert run_github(ci.host, ci.repo, PUSH_TO_MAIN) == ["validate", "plan", "apply"]
    web = ci.web()
    assert (web["state"], web["commit"]) == ("running", ci.head()) and alive(web["pid"])
    stale = ci.host.sh("reconcile apply --plan plan.json", ci.repo)  # the host moved since
    assert stale.returncode == 1 and f"{ci.name}-web is new" in stale.stderr
    assert ci.web()["pid"] == web["pid"]


def test_gitlab_pipeline_plans_a_branch_and_applies_on_main(ci: NativeCI) -> None:
    assert run_gitlab(ci.host, ci.repo, "feature") == ["validate", "plan"]
    assert ci.web() == {}
    assert run_gitlab(ci.host, ci.repo, "main") == ["validate", "plan", "apply"]
    first = ci.web()
    assert first["state"] == "running" and alive(first["pid"])
    ci.commit(ci.stack("2"), "v2")
    assert run_gitlab(ci.host, ci.repo, "main") == ["validate", "plan", "apply"]
    second = ci.web()
    assert second["state"] == "running" and second["commit"] == ci.head()
    assert second["pid"] != first["pid"] and not alive(first["pid"])  # replaced


def test_post_receive_hook_applies_a_push_and_keeps_what_runs_on_a_bad_one(
        ci: NativeCI) -> None:
    bare = ci.host.tmp / "stacks.git"
    ci.host.install_hook(bare, "post-receive")
    checkout = {"RECONCILE_CHECKOUT": str(ci.host.tmp / "checkout")}
    push = ci.host.sh(f"git push -q {bare} main", ci.repo, **checkout)
    assert push.returncode == 0 and "reconcile: deploying" in push.stderr, push.stderr
    web = ci.web()
    assert (web["state"], web["commit"]) == ("running", ci.head()) and alive(web["pid"])
    ci.commit(ci.stack().replace("image:", "imagee:"), "typo")
    push = ci.host.sh(f"git push -q {bare} main", ci.repo, **checkout)
    assert "did you mean `image`?" in push.stderr
    assert ci.web()["pid"] == web["pid"]


def sync_status(state: Path) -> dict[str, Any]:
    try:
        doc = json.loads((state / "loop" / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, Any] = doc.get("sync") or {}
    return found


def test_post_receive_sync_hook_wakes_a_running_sync(ci: NativeCI) -> None:
    bare = ci.host.tmp / "stacks.git"
    ci.host.install_hook(bare, "post-receive-sync")
    secret = ci.host.tmp / "webhook.secret"
    secret.write_text("s3cret-hook\n")
    port = free_port()
    log = (ci.host.tmp / "sync.log").open("w")
    sync = subprocess.Popen(  # an hour between fetches: only the hook can make it fetch
        [*RECONCILE, "--state-dir", str(ci.state), "sync", "--repo", str(bare),
         "--path", "stacks", "--interval", "1h", "--webhook", f"127.0.0.1:{port}",
         "--webhook-secret-file", str(secret)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    hook_env = {"RECONCILE_WEBHOOK": f"http://127.0.0.1:{port}/",
                "RECONCILE_WEBHOOK_SECRET_FILE": str(secret)}
    try:
        wait_for(lambda: sync_status(ci.state).get("webhook"), 30, "the webhook listening")
        began = time.monotonic()
        push = ci.host.sh(f"git push -q {bare} main", ci.repo, **hook_env)
        assert push.returncode == 0 and "reconcile: sync told to fetch" in push.stdout + \
            push.stderr, push.stderr
        first = ci.head()
        wait_for(lambda: ((sync_status(ci.state).get("stacks") or {}).get(ci.name) or {})
                 .get("commit") == first, 30, "the pushed commit in force")
        assert time.monotonic() - began < 30
        web = ci.web()
        assert web["state"] == "running" and alive(web["pid"]) and web["commit"] == first

        second = ci.commit(ci.stack("2"), "v2")
        push = ci.host.sh(f"git push -q {bare} main", ci.repo, **hook_env)
        wait_for(lambda: ((sync_status(ci.state).get("stacks") or {}).get(ci.name) or {})
                 .get("commit") == second, 30, "the second push in force")
        assert ci.web()["pid"] != web["pid"]
        assert sync_status(ci.state)["fetches"] <= 3  # the start, then one per push

        wrong = ci.host.tmp / "wrong.secret"
        wrong.write_text("not-the-secret\n")
        ci.commit(ci.stack("3"), "v3")
        push = ci.host.sh(f"git push -q {bare} main", ci.repo, **{
            **hook_env, "RECONCILE_WEBHOOK_SECRET_FILE": str(wrong)})
        assert "could not reach sync" in push.stderr  # 401: refused, nothing fetched
        time.sleep(1.0)
        assert sync_status(ci.state)["stacks"][ci.name]["commit"] == second
    finally:
        sync.send_signal(signal.SIGTERM)
        try:
            sync.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sync.kill()
            sync.wait()
        log.close()
