"""A wake about deaths alone looks at the containers it names only (issue 14: the
decision and the restart skip observing the rest); anything else looks at everything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.engine.wake import Wake
from reconciler.loop.control import Loop, completed
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver
from tests.unit.loop.test_loop import _wait, _write

TWO = """\
version: 1
name: shop
containers:
  web: {{image: "registry.local:5000/acme/web:1.4", restart: always, env: {{REV: "{rev}"}}}}
  db: {{image: "registry.local:5000/acme/db:1", restart: always}}
"""


@pytest.fixture
def loop_of_two(tmp_path: Path) -> Iterator[tuple[Loop, InMemoryDriver, Path]]:
    configure_logging()
    folder = tmp_path / "stacks"
    folder.mkdir()
    _write(folder / "shop.yaml", TWO.format(rev=1))
    driver = InMemoryDriver()
    loop = Loop(driver, tmp_path / "state", [folder], resync=3600)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run)
    thread.start()
    _wait(lambda: all(n in driver.containers and driver.containers[n].state == "running"
                      for n in ("shop-web", "shop-db")) and loop._view_whole)
    yield loop, driver, folder
    loop.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _observes(driver: InMemoryDriver) -> list[tuple[str, ...]]:
    return [c for c in driver.calls if c[0] == "observe"]


def test_a_death_observes_only_the_dead_container_and_restarts_it(
        loop_of_two: tuple[Loop, InMemoryDriver, Path]) -> None:
    loop, driver, _ = loop_of_two
    before = len(_observes(driver))
    driver.kill("shop-web")
    loop.wakes.put(Wake("death", "shop-web"))
    _wait(lambda: driver.calls.count(("start", "shop-web")) == 2
          and driver.containers["shop-web"].state == "running")
    targeted = _observes(driver)[before:]
    assert ("observe", "shop-web") in targeted  # the death, then its backoff due
    assert driver.calls.count(("start", "shop-db")) == 1  # the other one untouched
    _wait(lambda: loop._view_whole)
    assert {c.name for c in loop.observed.containers} == {"shop-web", "shop-db"}
    assert loop.book.records["shop-web"].restarts == 1


def test_a_stack_edit_after_a_death_observes_everything(
        loop_of_two: tuple[Loop, InMemoryDriver, Path]) -> None:
    loop, driver, folder = loop_of_two
    driver.kill("shop-web")
    loop.wakes.put(Wake("death", "shop-web"))
    _wait(lambda: driver.calls.count(("start", "shop-web")) == 2)
    before = len(_observes(driver))
    _write(folder / "shop.yaml", TWO.format(rev=2))
    _wait(lambda: driver.calls.count(("create", "shop-web")) == 2)
    assert ("observe",) in _observes(driver)[before:]


def test_no_targeted_look_before_a_whole_view() -> None:
    loop = Loop(InMemoryDriver(), Path("/nonexistent"), [])  # type: ignore[arg-type]
    assert loop._targets({"death"}, [Wake("death", "a")]) is None  # nothing seen yet
    loop._view_whole = True
    assert loop._targets({"death"}, [Wake("death", "a")]) == frozenset({"a"})
    assert loop._targets({"death", "intent"}, [Wake("death", "a")]) is None
    loop._last["deferred"] = {"b": 0.0, "c": float("inf")}
    assert loop._targets({"backoff"}, []) == frozenset({"b"})


def _seen(name: str, state: str) -> ObservedContainer:
    return ObservedContainer(name, "s", name, {}, "h", "sha256:0", state)  # type: ignore[arg-type]


def test_completed_replaces_the_named_and_drops_the_vanished() -> None:
    last = Observed(tuple(_seen(n, "running") for n in ("s-a", "s-b", "s-c")),
                    {"img": "sha256:1"}, frozenset())
    fresh = Observed((_seen("s-a", "exited"),), {"img": "sha256:2"}, frozenset({"v"}))
    out = completed(last, fresh, frozenset({"s-a", "s-c"}))
    assert [(c.name, c.state) for c in out.containers] == [("s-a", "exited"), ("s-b", "running")]
    assert out.images == {"img": "sha256:2"} and out.volumes == frozenset({"v"})
