"""depends_on conditions in the pure planner: a table of sentence-named cases.

The stack: db (tcp healthcheck), migrate (a one-shot job), web depends on db: healthy,
app depends on migrate: completed, front depends on web: started (a chain).
"""

from __future__ import annotations

import pytest

from reconciler.model.desired import Dependency, Desired, DesiredStack, Healthcheck, RestartPolicy
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan
from reconciler.planner.render import render_text
from tests.fakes import observed_from_spec
from tests.plan_fixtures import BASE_IMAGE, container, rehash

CHECK = Healthcheck(kind="tcp", port=5432, interval=1.0, timeout=1.0)
DB = container("db", BASE_IMAGE, healthcheck=CHECK, restart=RestartPolicy("always"))
MIGRATE = container("migrate", BASE_IMAGE, command=("migrate",))
WEB = container("web", BASE_IMAGE, depends_on=(Dependency("db", "healthy"),))
APP = container("app", BASE_IMAGE, depends_on=(Dependency("migrate", "completed"),))
FRONT = container("front", BASE_IMAGE, depends_on=(Dependency("web", "started"),))
STACK = DesiredStack("shop", "/srv/shop.yaml", images=(BASE_IMAGE,),
                     containers=(APP, DB, FRONT, MIGRATE, WEB))
DIGEST = "sha256:" + "a" * 64


def seen(spec_name: str, state: str = "running", **extra: object) -> ObservedContainer:
    spec = next(c for c in STACK.containers if c.name == spec_name)
    return observed_from_spec(spec, DIGEST, state, **extra)


def host(*containers: ObservedContainer) -> Observed:
    return Observed(containers, {BASE_IMAGE.identity: DIGEST}, frozenset())


def run(observed: Observed, **options: object) -> tuple[list[str], dict[str, tuple[str, bool]]]:
    done = plan(Desired((STACK,)), observed, PlanOptions(**options))  # type: ignore[arg-type]
    return ([a.id for a in done.actions],
            {w.name: (w.reason, w.failed) for w in done.waiting})


def test_on_an_empty_host_dependencies_are_created_and_dependants_wait() -> None:
    actions, waiting = run(host())
    assert actions == ["create:shop-db", "create:shop-migrate"]
    assert waiting == {
        "shop-web": ("waiting for shop-db to be healthy", False),
        "shop-app": ("waiting for shop-migrate to complete", False),
        # a started-dependant of a waiting container waits too
        "shop-front": ("waiting for shop-web: waiting for shop-db to be healthy", False),
    }


def test_dependant_waits_while_db_is_starting() -> None:
    actions, waiting = run(host(seen("shop-db", health="starting"),
                                seen("shop-migrate", "exited", exit_code=0)))
    assert actions == ["create:shop-app"]
    assert waiting["shop-web"] == ("waiting for shop-db to be healthy (health: starting)", False)


def test_health_not_known_yet_is_waiting_too() -> None:
    """The native driver does not know health: only a prober (loop, apply) does."""
    _, waiting = run(host(seen("shop-db"), seen("shop-migrate", "exited", exit_code=0)))
    assert waiting["shop-web"] == ("waiting for shop-db to be healthy", False)


def test_dependant_is_created_once_db_is_healthy_and_front_after_it() -> None:
    actions, waiting = run(host(seen("shop-db", health="healthy"),
                                seen("shop-migrate", "exited", exit_code=0)))
    assert actions == ["create:shop-app", "create:shop-web", "create:shop-front"]
    assert waiting == {}


def test_completed_job_success_lets_app_start() -> None:
    actions, waiting = run(host(seen("shop-db", health="healthy"), seen("shop-web"),
                                seen("shop-front"), seen("shop-migrate", "exited", exit_code=0)))
    assert actions == ["create:shop-app"] and waiting == {}


def test_completed_job_still_running_holds_app() -> None:
    _, waiting = run(host(seen("shop-migrate")))
    assert waiting["shop-app"] == ("waiting for shop-migrate to complete", False)


def test_completed_job_failure_blocks_app_with_the_reason() -> None:
    actions, waiting = run(host(seen("shop-db", health="healthy"),
                                seen("shop-migrate", "exited", exit_code=1)))
    assert "create:shop-app" not in actions
    assert waiting["shop-app"] == ("shop-migrate exited with code 1; depends_on: completed", True)
    text = render_text(plan(Desired((STACK,)), host(seen("shop-migrate", "exited", exit_code=1))))
    assert "✗ blocked shop-app (shop-migrate exited with code 1; depends_on: completed)" in text


def test_a_failed_job_that_will_be_restarted_is_waited_for_not_failed() -> None:
    retried = replace(MIGRATE, restart=RestartPolicy("on-failure", max_retries=3))
    stack = replace(STACK, containers=(APP, DB, FRONT, retried, WEB))
    done = plan(Desired((stack,)), host(seen("shop-migrate", "exited", exit_code=1)))
    assert "start:shop-migrate" in [a.id for a in done.actions]
    assert [(w.name, w.failed) for w in done.waiting if w.name == "shop-app"] == [
        ("shop-app", False)]


def test_a_dependency_in_backoff_is_waited_for() -> None:
    retried = replace(MIGRATE, restart=RestartPolicy("on-failure"))
    stack = replace(STACK, containers=(APP, DB, FRONT, retried, WEB))
    done = plan(Desired((stack,)), host(seen("shop-migrate", "exited", exit_code=1)),
                PlanOptions(now=10.0, not_before={"shop-migrate": 20.0}))
    assert [d.name for d in done.deferred] == ["shop-migrate"]
    assert ("shop-app", False) in [(w.name, w.failed) for w in done.waiting]


@pytest.mark.parametrize(("state", "health", "reason"), [
    ("running", "unhealthy", "shop-db is unhealthy; depends_on: healthy"),
    ("exited", "none", "shop-db is not running (exited with code 2); depends_on: healthy"),
])
def test_a_dependency_that_cannot_become_healthy_fails_the_dependant(
        state: str, health: str, reason: str) -> None:
    stack = replace(STACK, containers=(replace(DB, restart=RestartPolicy("no")), WEB))
    observed = host(seen("shop-db", state, health=health,
                         exit_code=2 if state == "exited" else None))
    done = plan(Desired((stack,)), observed)
    assert [(w.name, w.reason, w.failed) for w in done.waiting] == [("shop-web", reason, True)]


def test_a_replace_of_the_dependant_waits_and_the_old_one_keeps_running() -> None:
    changed = rehash(WEB, env=(("V", "2"),))
    stack = replace(STACK, containers=(DB, changed))
    done = plan(Desired((stack,)), host(seen("shop-db", health="starting"), seen("shop-web")))
    assert done.actions == () and [w.name for w in done.waiting] == ["shop-web"]


def test_a_replaced_dependency_holds_its_healthy_dependants_start() -> None:
    web = replace(WEB, restart=RestartPolicy("always"))
    stack = replace(STACK, containers=(rehash(DB, env=(("V", "2"),)), web))
    observed = host(seen("shop-db", health="healthy"), seen("shop-web", "exited", exit_code=0))
    done = plan(Desired((stack,)), observed)
    assert [a.id for a in done.actions] == ["replace:shop-db"]
    assert [w.reason for w in done.waiting] == ["waiting for shop-db to be healthy"]


def test_restart_of_an_unhealthy_dependant_is_never_held() -> None:
    web = replace(WEB, healthcheck=replace(CHECK, on_unhealthy="restart"))
    stack = replace(STACK, containers=(DB, web))
    observed = host(seen("shop-db", health="starting"), seen("shop-web", health="unhealthy"))
    done = plan(Desired((stack,)), observed)
    assert [a.id for a in done.actions] == ["restart:shop-web"] and done.waiting == ()
