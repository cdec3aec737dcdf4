"""The health gate of a `reconcile sync` deploy survives a restart of the loop (real git
repositories, the in-memory driver; tests/integration/test_sync_restart.py kills a real
`sync` process): the deadline is the one set before the restart, a revision that never
becomes ready is still rolled back, one that becomes ready is recorded `ok`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.loop.gates import GATES, settled
from tests.fakes import InMemoryDriver
from tests.gitrepos import Repo, SyncHost, stack_yaml, wait

API = """\
  api:
    image: "registry.local:5000/acme/web:1.4"
    restart: always
    healthcheck: {tcp: {port: 80}, interval: 50ms, timeout: 200ms, retries: 1}
"""


@pytest.fixture()
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "origin")


def gates(host: SyncHost) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((host.state / GATES).read_text())
    return doc


def pending_then_stopped(repo: Repo, tmp_path: Path, driver: InMemoryDriver,
                         deadline: float) -> tuple[str, str, float]:
    """A good revision in force, then one whose api is unhealthy, left pending when the
    loop stops: (good, new, the gate's deadline)."""
    good = repo.commit({"shop.yaml": stack_yaml("1")}, "good")
    driver.unhealthy.add("shop-api")
    with SyncHost(tmp_path, str(repo.path), driver=driver, health_deadline=deadline,
                  prune=True) as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        new = repo.commit({"shop.yaml": stack_yaml("2", API)}, "add an api")
        host.fetch()
        wait(lambda: (host.stack("shop").get("pending") or {}).get("commit") == new)
        due = float(host.stack("shop")["pending"]["deadline"])
    saved = gates(host)["shop"]["pending"]
    assert (saved["commit"], saved["deadline"], saved["restoring"]) == (new, due, False)
    return good, new, due


def test_a_restarted_sync_still_rolls_back_at_the_saved_deadline(
        repo: Repo, tmp_path: Path) -> None:
    driver = InMemoryDriver()
    good, bad, due = pending_then_stopped(repo, tmp_path, driver, deadline=3.0)
    assert time.time() < due - 1  # restarted well inside the deadline
    # A longer --health-deadline now: the saved deadline is the one that counts.
    with SyncHost(tmp_path, str(repo.path), driver=driver, health_deadline=600,
                  prune=True) as host:
        wait(lambda: (host.stack("shop").get("failing") or {}).get("result") == "rolled-back",
             timeout=10)
        [event] = host.events("loop-sync-commit-failed")
        assert due <= event["time"] < due + 1.5
        assert event["commit"] == bad and "within 3s" in event["reason"]
        wait(lambda: "shop-api" not in driver.containers and host.env("shop-web")
             == {"VERSION": "1"} and host.stack("shop").get("pending") is None)
        assert host.stack("shop")["commit"] == good and host.stack("shop")["held"]
        results = [(e["commit"], e["result"]) for e in host.history("shop")]
        assert results == [(good, "ok"), (bad, "rolled-back"), (good, "ok")]
        assert gates(host)["shop"]["pending"] is None  # closed, and saved so


def test_a_restarted_sync_records_a_revision_that_became_ready(
        repo: Repo, tmp_path: Path) -> None:
    driver = InMemoryDriver()
    good, new, due = pending_then_stopped(repo, tmp_path, driver, deadline=30.0)
    driver.unhealthy.discard("shop-api")  # it becomes healthy while no sync runs
    with SyncHost(tmp_path, str(repo.path), driver=driver, prune=True) as host:
        wait(lambda: host.stack("shop").get("commit") == new)
        assert time.time() < due
        assert host.stack("shop")["pending"] is None and not host.stack("shop")["held"]
        assert [(e["commit"], e["result"]) for e in host.history("shop")] == [
            (good, "ok"), (new, "ok")]
        assert driver.calls.count(("create", "shop-api")) == 1  # adopted, not redone
        assert host.events("loop-sync-rolled-back") == []
        assert gates(host) == {}


def test_a_gate_settled_before_the_crash_is_not_resumed() -> None:
    gate = {"pending": {"commit": "c1", "opened_at": 100.0, "deadline": 200.0}}
    assert settled([{"commit": "c1", "applied_at": 150.0, "result": "ok"}], gate)
    assert settled([{"commit": "c1", "applied_at": 100.0, "result": "rolled-back"}], gate)
    assert not settled([{"commit": "c1", "applied_at": 99.0, "result": "ok"}], gate)
    assert not settled([{"commit": "c2", "applied_at": 150.0, "result": "ok"}], gate)
    assert not settled([], {"pending": None})
