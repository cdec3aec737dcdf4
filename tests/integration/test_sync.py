"""`reconcile sync` on the real kernel with the native driver: a git repository in a
temporary folder is the desired state; a commit converges, a bad commit keeps the last
good revision running, a never-healthy revision is rolled back, `reconcile rollback`
goes back on purpose while the loop runs."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.gitrepos import Repo
from tests.integration.loop_helpers import RECONCILE, LoopHost, loop_host, wait_until
from tests.integration.native_helpers import REPO

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

UNHEALTHY = """\
    healthcheck: {exec: ["false"], interval: 200ms, timeout: 2s, retries: 1}
"""


def start_sync(host: LoopHost, repo: Repo, deadline: str = "4s") -> subprocess.Popen[str]:
    log = (host.root / f"loop-{len(host.procs)}.log").open("w")
    host.procs.append(subprocess.Popen(
        [*RECONCILE, "--state-dir", str(host.state), "--log-format", "json", "sync",
         "--repo", str(repo.path), "--path", "stacks", "--interval", "1s",
         "--health-deadline", deadline, "--prune"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True))
    return host.procs[-1]


def in_force(host: LoopHost, stack: str) -> dict[str, Any]:
    try:
        doc = json.loads((host.state / "loop" / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, Any] = ((doc.get("sync") or {}).get("stacks") or {}).get(stack) or {}
    return found


def test_sync_deploys_keeps_the_last_good_and_rolls_back(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}g"
    host.names.add(name)
    repo = Repo(host.root / "origin")
    first = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "1"})}, "v1")
    start_sync(host, repo)
    wait_until(lambda: in_force(host, name).get("commit") == first, what="v1 in force")
    pid = host.ps(name)[f"{name}-web"]["pid"]
    assert pid and host.ps(name)[f"{name}-web"]["state"] == "running"

    broken = host.stack_text(name, {"web": "2"}).replace("command:", "comand:", 1)
    bad = repo.commit({"stacks/app.yaml": broken}, "typo")
    wait_until(lambda: (in_force(host, name).get("failing") or {}).get("commit") == bad,
               what="the bad commit reported")
    assert host.ps(name)[f"{name}-web"]["pid"] == pid  # untouched

    sick = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "3"}) + UNHEALTHY},
                       "never healthy")
    wait_until(lambda: (in_force(host, name).get("failing") or {}).get("result")
               == "rolled-back", what="rolled back")
    assert in_force(host, name)["failing"]["commit"] == sick
    wait_until(lambda: in_force(host, name).get("pending") is None
               and host.ps(name)[f"{name}-web"]["state"] == "running", what="v1 back")
    history = host.cli("history", name, "-o", "json").stdout
    assert '"rolled-back"' in history and first in history

    second = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "4"})}, "v4")
    wait_until(lambda: in_force(host, name).get("commit") == second, what="v4 in force")
    done = host.cli("rollback", name, first[:10])
    assert f"rolled back {name} to {first[:12]}" in done.stdout
    inspect = host.cli("inspect", f"{name}/web").stdout
    assert "VERSION=1" in inspect or '"VERSION": "1"' in inspect
