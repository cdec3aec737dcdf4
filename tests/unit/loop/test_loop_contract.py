"""The control loop and the CLI end to end against a driver that implements only the
driver contract (tests/fakes.py: no native internals): deaths from the driver's event
stream restart per policy, failing probes run through the driver restart on unhealthy,
`stop`/`start` while the loop runs are seen at once, `images ls` and `inspect` work."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.drivers.base import Driver, FullDriver, Operations
from reconciler.loop.control import Loop
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver

STACK = """\
version: 1
name: shop
containers:
  web:
    image: "registry.local:5000/acme/web:1.4"
    restart: {restart}
  api:
    image: "registry.local:5000/acme/web:1.4"
    restart: always
    healthcheck: {{tcp: {{port: 80}}, interval: 50ms, timeout: 1s, retries: 2,
                  on_unhealthy: restart}}
"""


class Host:
    def __init__(self, tmp_path: Path) -> None:
        self.driver = InMemoryDriver()
        self.state = tmp_path / "state"
        self.stacks = tmp_path / "stacks"
        self.stacks.mkdir()

    def cli(self, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
        assert main(["--state-dir", str(self.state), *argv], driver=self.driver) == 0
        return capsys.readouterr().out

    def status(self) -> dict[str, dict[str, object]]:
        try:
            doc = json.loads((self.state / "loop" / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        containers: dict[str, dict[str, object]] = doc["containers"]
        return containers

    def starts(self, name: str) -> int:
        return self.driver.calls.count(("start", name))


def run_loop(host: Host, restart: str) -> Iterator[Host]:
    configure_logging()
    (host.stacks / "shop.yaml").write_text(STACK.format(restart=restart))
    loop = Loop(host.driver, host.state, [host.stacks], resync=3600)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait(lambda: host.status().get("shop-web", {}).get("observed_state") == "running")
        yield host
    finally:
        loop.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert host.driver.subscribers == []  # the loop closed its subscription


@pytest.fixture()
def on_failure(tmp_path: Path) -> Iterator[Host]:
    yield from run_loop(Host(tmp_path), "on-failure:2")


@pytest.fixture()
def no_restart(tmp_path: Path) -> Iterator[Host]:
    yield from run_loop(Host(tmp_path), "no")


def wait(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_test_driver_implements_both_protocols_and_nothing_native() -> None:
    driver = InMemoryDriver()
    assert isinstance(driver, Driver) and isinstance(driver, Operations)
    assert isinstance(driver, FullDriver)
    assert not any("native" in c.__module__ for c in type(driver).__mro__)


def test_a_death_from_the_event_stream_restarts_per_policy_until_it_gives_up(
        on_failure: Host) -> None:
    host = on_failure
    assert host.starts("shop-web") == 1
    host.driver.die("shop-web", exit_code=3)  # no resync for an hour: only the event wakes
    wait(lambda: host.starts("shop-web") == 2
         and host.driver.containers["shop-web"].state == "running")
    host.driver.die("shop-web", exit_code=3)
    wait(lambda: host.starts("shop-web") == 3)
    host.driver.die("shop-web", exit_code=3)  # on-failure:2 spent: it stays down
    wait(lambda: host.status()["shop-web"]["state"] == "gave-up")
    assert host.starts("shop-web") == 3
    died = [json.loads(line) for line in (host.state / "events.jsonl").read_text().splitlines()
            if json.loads(line)["type"] == "loop-died"]
    assert len(died) == 3  # each with where its decision's time went, in order
    for event in died:
        assert event["finished_at"] > 0
        assert 0 <= event["detected_ms"] <= event["woke_ms"] <= event["decided_ms"]


def test_a_death_under_restart_no_is_not_undone(no_restart: Host) -> None:
    host = no_restart
    host.driver.die("shop-web", exit_code=0)
    wait(lambda: host.status()["shop-web"]["observed_state"] == "exited")
    time.sleep(0.3)
    assert host.starts("shop-web") == 1


def test_a_failing_probe_through_the_driver_restarts_on_unhealthy(on_failure: Host) -> None:
    host = on_failure
    wait(lambda: host.status().get("shop-api", {}).get("health") == "healthy")
    wait(lambda: "shop-api" in host.driver.probed)  # the probe goes through the contract
    host.driver.unhealthy.add("shop-api")
    wait(lambda: host.driver.calls.count(("stop", "shop-api")) >= 1)
    host.driver.unhealthy.discard("shop-api")
    wait(lambda: host.starts("shop-api") >= 2
         and host.driver.containers["shop-api"].state == "running")


def test_stop_and_start_while_the_loop_runs_show_at_once(
        on_failure: Host, capsys: pytest.CaptureFixture[str]) -> None:
    host = on_failure
    host.cli(capsys, "stop", "shop/web")
    rows = {r["name"]: r for r in json.loads(host.cli(capsys, "ps", "-o", "json"))}
    assert rows["shop-web"]["state"] == "user-stopped"
    wait(lambda: host.status()["shop-web"]["state"] == "user-stopped", timeout=10)  # resync: 1 h
    time.sleep(0.3)
    assert host.starts("shop-web") == 1  # the loop does not undo a user's stop
    host.cli(capsys, "start", "shop/web")
    rows = {r["name"]: r for r in json.loads(host.cli(capsys, "ps", "-o", "json"))}
    assert rows["shop-web"]["state"] == "running"  # not the loop's stale word
    wait(lambda: host.status()["shop-web"]["state"] == "running", timeout=10)  # resync: 1 h


def test_images_and_inspect_through_the_contract(
        on_failure: Host, capsys: pytest.CaptureFixture[str]) -> None:
    host = on_failure
    listed = json.loads(host.cli(capsys, "images", "ls", "-o", "json"))
    assert [i["identity"] for i in listed] == ["ref:registry.local:5000/acme/web:1.4"]
    assert listed[0]["digest"].startswith("sha256:")
    inspected = json.loads(host.cli(capsys, "inspect", "shop/web"))
    assert inspected["name"] == "shop-web" and inspected["backend"]["driver"] == "memory"
    assert "in memory" in host.cli(capsys, "info")  # the host facts come from the driver
