"""Executor against the in-memory driver: order, bounded parallelism, failure isolation,
the fixed action -> driver-call mapping, and events."""

from __future__ import annotations

from reconciler.drivers.base import Driver
from reconciler.engine.execute import ActionEvent, execute
from reconciler.model.actions import Action, Kind, Plan
from reconciler.model.desired import Dependency, Desired
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan
from tests.fakes import InMemoryDriver
from tests.plan_fixtures import BASE_IMAGE, base_stack, container, rehash, spec_of, with_containers


def apply(driver: InMemoryDriver, desired: Desired, **options: object) -> Plan:
    current = plan(desired, driver.observe(), PlanOptions(**options))  # type: ignore[arg-type]
    result = execute(current, driver)
    assert result.ok, result.failed
    return current


def mutations(driver: InMemoryDriver) -> list[tuple[str, ...]]:
    return [c for c in driver.calls if c[0] != "observe"]


def test_apply_on_an_empty_host_converges_and_a_second_plan_is_empty() -> None:
    driver = InMemoryDriver()
    desired = Desired((base_stack(),))
    apply(driver, desired)
    assert sorted(driver.containers) == ["shop-cache", "shop-db", "shop-job", "shop-web"]
    assert driver.volumes == {"shop-data"}
    assert plan(desired, driver.observe()).empty


def test_dependencies_run_before_their_dependants() -> None:
    driver = InMemoryDriver(delay=0.01)
    apply(driver, Desired((base_stack(),)))
    calls = mutations(driver)
    assert calls.index(("start", "shop-db")) < calls.index(("create", "shop-web"))
    assert calls.index(("create_volume", "shop-data")) < calls.index(("create", "shop-db"))
    assert calls.index(("ensure_image", "web")) < calls.index(("create", "shop-web"))


def test_parallelism_is_bounded() -> None:
    many = [container(f"c{n}", BASE_IMAGE) for n in range(12)]
    stack = replace(base_stack(), containers=tuple(many), volumes=())
    driver = InMemoryDriver(delay=0.1)
    driver.images[BASE_IMAGE.identity] = "sha256:1"  # make every create independent
    current = plan(Desired((stack,)), driver.observe())
    assert execute(current, driver, parallelism=3).ok
    # Never more than the bound; and calls do overlap (a loaded machine may not always
    # line up all three within a 0.1 s hold, so exactly 3 is not asserted).
    assert 2 <= driver.max_in_flight <= 3
    serial = InMemoryDriver(delay=0.005)
    serial.images[BASE_IMAGE.identity] = "sha256:1"
    assert execute(current, serial, parallelism=1).ok
    assert serial.max_in_flight == 1


def test_a_failure_skips_its_dependants_and_everything_else_runs() -> None:
    driver = InMemoryDriver(fail_on={("create", "shop-db")})
    current = plan(Desired((base_stack(),)), driver.observe())
    events: list[ActionEvent] = []
    result = execute(current, driver, on_event=events.append)
    assert not result.ok
    assert result.outcome("create:shop-db").status == "failed"
    assert "injected failure of create" in (result.outcome("create:shop-db").error or "")
    web = result.outcome("create:shop-web")
    assert (web.status, web.error) == ("skipped", "skipped (dependency create:shop-db failed)")
    assert result.outcome("create:shop-cache").status == "ok"
    assert result.outcome("create:shop-job").status == "ok"
    assert ("create", "shop-web") not in driver.calls
    assert [e.status for e in events if e.action.id == "create:shop-web"] == ["skipped"]
    assert [e.status for e in events if e.action.id == "create:shop-db"] == ["started", "failed"]


def test_a_skip_spreads_to_transitive_dependants() -> None:
    stack = base_stack()
    front = container("front", BASE_IMAGE, depends_on=(Dependency("web"),))
    driver = InMemoryDriver(fail_on={("ensure_image", "base")})
    result = execute(plan(Desired((with_containers(stack, front),)), driver.observe()), driver)
    assert result.outcome("create:shop-front").error == "skipped (dependency import:base failed)"
    assert result.outcome("pull:web").status == "ok"


def test_replace_removes_then_creates_then_starts() -> None:
    driver = InMemoryDriver()
    stack = base_stack()
    apply(driver, Desired((stack,)))
    driver.calls.clear()
    db = rehash(spec_of(stack, "db"), env=(("TZ", "CET"),))
    apply(driver, Desired((with_containers(stack, db),)))
    assert mutations(driver) == [("remove", "shop-db"), ("create", "shop-db"), ("start", "shop-db")]
    assert driver.containers["shop-db"].config_hash == db.config_hash


def test_prune_removes_dependants_first() -> None:
    driver = InMemoryDriver()
    apply(driver, Desired((base_stack(),)))
    driver.calls.clear()
    empty = replace(base_stack(), containers=(), volumes=())
    apply(driver, Desired((empty,)), prune=True)
    calls = mutations(driver)
    assert calls.index(("remove", "shop-web")) < calls.index(("remove", "shop-db"))
    assert driver.containers == {}


def test_unexpected_exceptions_become_failures() -> None:
    class Broken(InMemoryDriver):
        def start(self, name: str) -> None:
            raise RuntimeError("boom")

    driver = Broken()
    result = execute(plan(Desired((base_stack(),)), driver.observe()), driver)
    assert result.outcome("create:shop-db").error == "unexpected RuntimeError: boom"
    assert result.outcome("create:shop-web").status == "skipped"


def test_every_action_kind_maps_to_its_driver_calls() -> None:
    driver = InMemoryDriver()
    volume = base_stack().volumes[0]
    spec = container("solo", BASE_IMAGE)
    steps = [
        Action("import:base", Kind.IMPORT, "base", "r", image=BASE_IMAGE),
        Action("create-volume:shop-data", Kind.CREATE_VOLUME, "shop-data", "r", volume=volume),
        Action("create:shop-solo", Kind.CREATE, "shop-solo", "r", container=spec),
        Action("remove:shop-solo", Kind.REMOVE, "shop-solo", "r"),
        Action("create-stopped:shop-solo", Kind.CREATE_STOPPED, "shop-solo", "r", container=spec),
        Action("remove:shop-solo@2", Kind.REMOVE, "shop-solo", "r"),
        Action("remove-volume:shop-data", Kind.REMOVE_VOLUME, "shop-data", "r", volume=volume),
    ]
    chained = [replace(a, depends_on=(steps[n - 1].id,) if n else ()) for n, a in enumerate(steps)]
    assert execute(Plan(tuple(chained)), driver).ok
    assert mutations(driver) == [
        ("ensure_image", "base"),
        ("create_volume", "shop-data"),
        ("create", "shop-solo"),
        ("start", "shop-solo"),
        ("remove", "shop-solo"),
        ("create", "shop-solo"),  # create-stopped: no start
        ("remove", "shop-solo"),
        ("remove_volume", "shop-data"),
    ]


def test_a_malformed_action_fails_cleanly() -> None:
    result = execute(Plan((Action("create:x", Kind.CREATE, "x", "r"),)), InMemoryDriver())
    assert result.failed[0].error == "create:x: malformed action (missing payload)"


def test_an_empty_plan_runs_nothing() -> None:
    driver = InMemoryDriver()
    result = execute(Plan(), driver)
    assert result.ok
    assert result.outcomes == ()
    assert driver.calls == []


def test_the_in_memory_driver_implements_the_driver_protocol() -> None:
    assert isinstance(InMemoryDriver(), Driver)
