"""A `reconcile sync` process killed (SIGKILL) while a deploy waits for health, then
started again, on the native driver: the pending gate is read back from the state dir
(sync/gates.json) with its deadline; a revision that never becomes healthy is still rolled
back at that deadline, one that became healthy meanwhile is recorded `ok`."""

from __future__ import annotations

import json

import pytest

from tests.gitrepos import Repo
from tests.integration.loop_helpers import LoopHost, loop_host, wait_until
from tests.integration.test_sync import UNHEALTHY, in_force, start_sync

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

READY_FILE = """\
    healthcheck: {exec: ["test", "-f", "/tmp/ready"], interval: 200ms, timeout: 2s, retries: 1}
"""


def pending_deadline(host: LoopHost, name: str, commit: str) -> float:
    gate = wait_until(lambda: (in_force(host, name).get("pending") or {}).get("commit")
                      == commit and in_force(host, name)["pending"], what=f"{commit} pending")
    return float(gate["deadline"])


def kill(host: LoopHost) -> None:
    proc = host.procs[-1]
    proc.kill()  # SIGKILL: nothing of the gate is written on the way out
    proc.wait(timeout=10)


def history(host: LoopHost, name: str) -> list[tuple[str, str]]:
    rows = json.loads(host.cli("history", name, "-o", "json").stdout)
    return [(r["commit"], r["result"]) for r in rows]


def test_a_killed_sync_resumes_the_health_gate_of_a_deploy(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}k"
    host.names.add(name)
    repo = Repo(host.root / "origin")
    good = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "1"})}, "v1")
    start_sync(host, repo, deadline="12s")
    wait_until(lambda: in_force(host, name).get("commit") == good, what="v1 in force")

    sick = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "2"}) + UNHEALTHY},
                       "never healthy")
    due = pending_deadline(host, name, sick)
    kill(host)
    saved = json.loads((host.state / "sync" / "gates.json").read_text())[name]["pending"]
    assert (saved["commit"], saved["deadline"]) == (sick, due)
    start_sync(host, repo, deadline="10m")  # the saved deadline counts, not the new option
    wait_until(lambda: (in_force(host, name).get("failing") or {}).get("result")
               == "rolled-back", timeout=40, what="the sick revision rolled back")
    [failed] = host.events("loop-sync-commit-failed")
    assert failed["commit"] == sick and due <= failed["time"] < due + 5
    assert "within 12s" in failed["reason"]
    wait_until(lambda: in_force(host, name).get("pending") is None, what="v1 back and ready")
    assert in_force(host, name)["commit"] == good
    assert host.ps(name)[f"{name}-web"]["state"] == "running"
    assert history(host, name) == [(good, "ok"), (sick, "rolled-back"), (good, "ok")]

    slow = repo.commit({"stacks/app.yaml": host.stack_text(name, {"web": "3"}) + READY_FILE},
                       "healthy once /tmp/ready exists")
    due = pending_deadline(host, name, slow)
    kill(host)
    host.cli("exec", f"{name}/web", "--", "touch", "/tmp/ready")  # ready while no sync runs
    start_sync(host, repo, deadline="1s")
    wait_until(lambda: in_force(host, name).get("commit") == slow, timeout=40,
               what="the slow revision recorded ok")
    [deployed] = [e for e in host.events("loop-sync-deployed") if e["commit"] == slow]
    assert deployed["time"] < due
    assert in_force(host, name)["pending"] is None and not in_force(host, name)["held"]
    assert history(host, name)[-1] == (slow, "ok")
    assert len(host.events("loop-sync-rolled-back")) == 1
