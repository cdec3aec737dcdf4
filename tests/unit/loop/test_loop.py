"""The control loop without a kernel: stack files, last good versions, debounce of write
bursts, the wake filter, and a whole Loop against the in-memory driver."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.loop.control import Loop
from reconciler.loop.stacks import StackSet
from reconciler.loop.watch import is_stack_file
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver

STACK = """\
version: 1
name: {name}
containers:
  web:
    image: "registry.local:5000/acme/web:1.4"
    env: {{REV: "{rev}"}}
"""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.mark.parametrize(("name", "counts"), [
    ("shop.yaml", True), ("shop.yml", True), (".shop.yaml.swp", False), ("shop.yaml~", False),
    ("4913", False), (".#shop.yaml", False), (".shop.yaml.tmp", False), ("notes.txt", False),
    (".shop.yaml", False),
])
def test_only_real_stack_files_wake_the_loop(name: str, counts: bool) -> None:
    assert is_stack_file(f"/etc/reconcile/{name}") is counts


def test_an_invalid_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(STACK.format(name="shop", rev=1))
    stacks = StackSet([tmp_path])
    assert [c.kind for c in stacks.reload()] == ["loaded"]
    path.write_text(STACK.format(name="shop", rev=2).replace("image:", "imag:"))
    change = stacks.reload()[0]
    assert change.kind == "invalid"
    assert change.problems[0].startswith(f"{path}:5:5:")
    assert stacks.desired().containers()[0].env_map["REV"] == "1"
    assert stacks.entries[str(path)].problems  # shown by `status` until fixed
    path.write_text(STACK.format(name="shop", rev=3))
    assert stacks.reload()[0].kind == "loaded"
    assert stacks.desired().containers()[0].env_map["REV"] == "3"
    assert not stacks.entries[str(path)].problems


def test_a_deleted_file_stays_in_scope_and_a_name_clash_is_refused(tmp_path: Path) -> None:
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text(STACK.format(name="shop", rev=1))
    two.write_text(STACK.format(name="shop", rev=2))
    stacks = StackSet([tmp_path])
    kinds = {c.path: c.kind for c in stacks.reload()}
    assert kinds == {str(one): "loaded", str(two): "invalid"}
    assert "already defined by" in stacks.entries[str(two)].problems[0]
    one.unlink()
    assert {c.kind for c in stacks.reload([str(one)])} == {"deleted"}
    assert stacks.scope() == frozenset({"shop"}) and not stacks.desired().stacks
    stacks.forget_deleted(frozenset())
    assert str(one) not in stacks.entries


@pytest.fixture()
def running_loop(tmp_path: Path) -> Iterator[tuple[Loop, InMemoryDriver, Path]]:
    configure_logging()  # log to this test's stderr, not a stream an earlier test closed
    folder = tmp_path / "stacks"
    folder.mkdir()
    driver = InMemoryDriver()
    loop = Loop(driver, tmp_path / "state", [folder], resync=3600)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run)
    thread.start()
    yield loop, driver, folder
    loop.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _wait(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_burst_of_rewrites_ends_converged_on_the_last_content(
        running_loop: tuple[Loop, InMemoryDriver, Path]) -> None:
    loop, driver, folder = running_loop
    path = folder / "shop.yaml"
    for rev in range(100):  # 50 writes a second for 2 s
        _write(path, STACK.format(name="shop", rev=rev))
        time.sleep(0.02)

    def final() -> bool:
        web = driver.containers.get("shop-web")
        return web is not None and dict(web.recorded_spec or {}).get("env", {}).get("REV") == "99"

    _wait(final)
    replaces = sum(1 for call in driver.calls if call == ("create", "shop-web"))
    assert replaces < 40  # debounced: far fewer convergences than writes
    assert loop.stacks.entries[str(path)].revision


def test_a_dead_container_is_restarted_and_the_status_written(
        running_loop: tuple[Loop, InMemoryDriver, Path]) -> None:
    loop, driver, folder = running_loop
    text = STACK.format(name="shop", rev=1) + "    restart: always\n"
    _write(folder / "shop.yaml", text)
    _wait(lambda: "shop-web" in driver.containers
          and driver.containers["shop-web"].state == "running")
    driver.kill("shop-web")  # no exit record in memory: the resync / next wake finds it
    loop.wakes.put(__import__("reconciler.loop.watch", fromlist=["Wake"]).Wake("death", "shop-web"))
    _wait(lambda: driver.containers["shop-web"].state == "running"
          and driver.calls.count(("start", "shop-web")) == 2)
    status = (loop.state_dir / "loop" / "status.json").read_text()
    assert '"shop-web"' in status


def test_a_convergence_waits_for_a_stop_beside_it_and_then_honours_it(
        running_loop: tuple[Loop, InMemoryDriver, Path]) -> None:
    """The race `reconcile stop` (or the API's) had with the loop: a convergence that read
    the user-stopped markers before the stop marked its container saw it exited after the
    stop and started it again. The stop holds decision_lock while it marks and acts."""
    from reconciler.engine.wake import Wake
    from reconciler.loop.intents import mark_stopped
    from reconciler.support.lock import decision_lock

    loop, driver, folder = running_loop
    began: list[float] = []
    loop.publish_listeners.append(lambda p: began.append(p.status["converge_began"]))
    _write(folder / "shop.yaml", STACK.format(name="shop", rev=1) + "    restart: always\n")
    _wait(lambda: "shop-web" in driver.containers
          and driver.containers["shop-web"].state == "running")
    with decision_lock(loop.state_dir):  # a stop in progress, as cli/ops.py cmd_stop does it
        driver.kill("shop-web")  # the stop's death, seen by the loop before the marker
        loop.wakes.put(Wake("death", "shop-web", time.time()))
        time.sleep(0.3)  # without the lock the loop restarts it here
        assert driver.calls.count(("start", "shop-web")) == 1
        mark_stopped(loop.state_dir, "shop-web")
        released = time.time()
    _wait(lambda: any(at >= released for at in began))
    assert driver.calls.count(("start", "shop-web")) == 1
    assert driver.containers["shop-web"].state != "running"
