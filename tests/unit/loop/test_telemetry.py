"""What the loop counts for /metrics: convergences (histogram, last success), planned and
run actions by kind, image bytes from the driver's progress, deaths and OOM kills, lag."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.base import Progress
from reconciler.engine.execute import ActionEvent, Transfer, execute
from reconciler.engine.wake import Wake
from reconciler.loop.control import Loop
from reconciler.loop.telemetry import CONVERGE_BUCKETS, Telemetry
from reconciler.model.actions import Action, Kind, Plan
from reconciler.model.desired import ImageSource
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver
from tests.unit.loop.test_loop_contract import wait

STACK = """\
version: 1
name: shop
containers:
  web: {image: "registry.local:5000/acme/web:1.4", restart: always}
"""


class PullingDriver(InMemoryDriver):
    """Reports pull progress as a registry pull does: per layer, counting up."""

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        if progress is not None and image.identity not in self.images:
            for done in (100, 400, 1000):
                progress("layer a", done, 1000)
            progress("layer b", 24, 24)
        return super().ensure_image(image, progress)


@pytest.fixture()
def loop(tmp_path: Path) -> Iterator[tuple[Loop, PullingDriver]]:
    configure_logging()
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "shop.yaml").write_text(STACK)
    driver = PullingDriver()
    loop = Loop(driver, tmp_path / "state", [stacks], resync=3600)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait(lambda: loop.telemetry.snapshot().last_success is not None)
        yield loop, driver
    finally:
        loop.stop()
        thread.join(timeout=10)


def test_a_first_convergence_counts_its_plan_its_actions_and_the_pulled_bytes(
        loop: tuple[Loop, PullingDriver]) -> None:
    snap = loop[0].telemetry.snapshot()
    assert snap.converges == {"ok": 1}
    assert snap.converge_seconds.count == 1 and snap.converge_seconds.total > 0
    assert snap.planned == {"pull": 1, "create": 1}
    assert snap.actions == {("pull", "succeeded"): 1, ("create", "succeeded"): 1}
    assert snap.images == {"pull": 1} and snap.image_bytes == {"pull": 1024}
    assert snap.last_converge == snap.last_success


def test_a_death_and_an_oom_kill_are_counted_once_and_the_wake_lag_measured(
        loop: tuple[Loop, PullingDriver]) -> None:
    the_loop, driver = loop
    driver.die("shop-web", exit_code=137, oom_killed=True)
    wait(lambda: the_loop.telemetry.snapshot().actions.get(("start", "succeeded")) == 1)
    snap = the_loop.telemetry.snapshot()
    assert snap.deaths == {("shop", "shop-web"): 1}
    assert snap.oom_kills == {("shop", "shop-web"): 1}
    assert snap.wakes.get("death") == 1
    assert 0 <= snap.lag_last <= snap.lag_max < 5
    # (planned: the last convergence's plan, maybe an empty one after the restart)
    assert snap.converges["ok"] >= 2


def test_the_histogram_puts_each_duration_in_its_bucket_and_cumulates() -> None:
    telemetry = Telemetry()
    for seconds in (0.001, 0.03, 0.03, 500.0):
        telemetry.converged(seconds, seconds < 100, [Plan()], 1.0)
    snap = telemetry.snapshot()
    cumulative = dict(snap.converge_seconds.cumulative())
    assert cumulative[CONVERGE_BUCKETS[0]] == 1
    assert cumulative[0.025] == 1 and cumulative[0.05] == 3
    assert cumulative[CONVERGE_BUCKETS[-1]] == 3 and cumulative[float("inf")] == 4
    assert snap.converge_seconds.total == pytest.approx(500.061)
    assert snap.converges == {"ok": 3, "failed": 1}


def test_wakes_without_a_cause_time_leave_the_lag_alone() -> None:
    telemetry = Telemetry()
    telemetry.woke([Wake("death", "a", 10.0), Wake("stop", "")], now=10.5)
    telemetry.woke([Wake("stop", "")], now=99.0)
    snap = telemetry.snapshot()
    assert snap.lag_last == pytest.approx(0.5) and snap.lag_max == pytest.approx(0.5)
    assert snap.wakes == {"death": 1, "stop": 2}


def test_transfer_sums_each_layer_once_at_its_highest_count() -> None:
    transfer = Transfer()
    for what, done in (("a", 10), ("b", 5), ("a", 30), ("a", 30)):
        transfer(what, done, None)
    assert transfer.total == 35


def test_execute_reports_the_bytes_an_image_action_moved() -> None:
    image = ImageSource("web", "ref", "ref:r/web:1", ref="r/web:1")
    events: list[ActionEvent] = []
    plan = Plan(actions=(Action("pull:web", Kind.PULL, "web", "missing", image=image),))
    assert execute(plan, PullingDriver(), on_event=events.append).ok
    assert [(e.status, e.transferred) for e in events] == [("started", 0), ("succeeded", 1024)]
