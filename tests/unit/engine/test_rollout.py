"""start-first rollouts on the in-memory driver, planned and executed as the CLI does:
call order, a failed health check keeps the old container, the deadline, and the debris of
an interrupted rollout is planned away first."""

from __future__ import annotations

from reconciler.drivers.base import ExecRequest
from reconciler.engine.execute import ExecutionResult, execute
from reconciler.model.desired import ContainerSpec, Desired, DesiredStack, Healthcheck
from reconciler.model.observed import Observed
from reconciler.model.records import replace
from reconciler.model.rollout import deadline_of
from reconciler.planner.plan import plan
from tests.fakes import InMemoryDriver, digest_of, observed_from_spec
from tests.plan_fixtures import BASE_IMAGE, container, rehash

CHECK = Healthcheck(kind="exec", exec=("true",), interval=0.01, timeout=1.0, retries=2)
OLD = container("web", BASE_IMAGE, healthcheck=CHECK, update_order="start-first")
NEW = rehash(OLD, env=(("V", "2"),))
STEPS = ["create-stopped:shop-web.next", "start:shop-web.next", "wait-healthy:shop-web.next",
         "remove:shop-web", "create-stopped:shop-web", "start:shop-web",
         "wait-healthy:shop-web", "remove:shop-web.next"]


class Sick(InMemoryDriver):
    def exec(self, name: str, request: ExecRequest) -> int:
        super().exec(name, request)
        return 1


def _stack(spec: ContainerSpec) -> Desired:
    return Desired((DesiredStack("shop", "/s.yaml", images=(BASE_IMAGE,), containers=(spec,)),))


def _driver(driver: InMemoryDriver) -> InMemoryDriver:
    driver.images[BASE_IMAGE.identity] = digest_of("base")
    driver.create(OLD)
    driver.start(OLD.name)
    driver.calls.clear()
    return driver


def _apply(driver: InMemoryDriver, spec: ContainerSpec) -> ExecutionResult:
    current = plan(_stack(spec), driver.observe())
    assert [a.id for a in current.actions] == STEPS
    return execute(current, driver)


def test_the_new_one_is_started_and_healthy_before_the_old_one_goes() -> None:
    driver = _driver(InMemoryDriver())
    assert _apply(driver, NEW).ok
    calls = [c for c in driver.calls if c[0] not in ("exec", "observe")]
    assert calls == [("create", "shop-web.next"), ("start", "shop-web.next"),
                     ("remove", "shop-web"), ("create", "shop-web"), ("start", "shop-web"),
                     ("remove", "shop-web.next")]
    assert set(driver.containers) == {"shop-web"}


def test_a_never_healthy_new_one_is_removed_and_the_old_one_kept() -> None:
    driver = _driver(Sick())
    result = _apply(driver, NEW)
    failed = result.outcome("wait-healthy:shop-web.next")
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith("shop-web.next: new version is unhealthy")
    assert [o.status for o in result.outcomes[3:]] == ["skipped"] * 5
    assert ("remove", "shop-web.next") in driver.calls  # the wait's failure path
    assert ("remove", "shop-web") not in driver.calls
    assert set(driver.containers) == {"shop-web"}
    assert driver.containers["shop-web"].state == "running"
    assert driver.containers["shop-web"].config_hash == OLD.config_hash


def test_deadline_from_update_or_the_healthcheck() -> None:
    assert deadline_of(replace(OLD, update_deadline=60.0)) == 60.0
    check = replace(CHECK, start_period=5.0, interval=2.0, retries=3, timeout=1.0)
    assert deadline_of(replace(OLD, healthcheck=check)) == 5.0 + 3 * 2.0 + 1.0


def test_the_debris_of_an_interrupted_rollout_is_removed_by_the_next_plan() -> None:
    digest = digest_of("base")
    debris = observed_from_spec(replace(NEW, name="shop-web.next"), digest)
    observed = Observed((observed_from_spec(OLD, digest), debris),
                        {BASE_IMAGE.identity: digest})
    current = plan(_stack(NEW), observed)
    assert [a.id for a in current.actions] == ["remove:shop-web.next@debris", *STEPS]
    assert current.action(STEPS[0]).depends_on == ("remove:shop-web.next@debris",)
    assert current.actions[0].reason == "left behind by an interrupted start-first rollout"
