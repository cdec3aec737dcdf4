"""Restart backoff bookkeeping and the planner's use of it (not_before, user stops,
unhealthy restarts)."""

from __future__ import annotations

import pytest

from reconciler.loop.restart import RestartBook, backoff_delay
from reconciler.model.actions import Deferred, Kind
from reconciler.model.desired import Backoff, Desired, Healthcheck, RestartPolicy
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan
from tests.plan_fixtures import BASE_IMAGE, base_stack, container, observed_for, replace_observed

DOCKER = Backoff()


@pytest.mark.parametrize(
    ("streak", "delay"), [(0, 0.1), (1, 0.2), (2, 0.4), (9, 51.2), (10, 60.0), (500, 60.0)]
)
def test_delay_doubles_from_100ms_and_caps_at_one_minute(streak: int, delay: float) -> None:
    assert backoff_delay(DOCKER, streak) == pytest.approx(delay)


def _died(name: str, started: float, finished: float, code: int = 1) -> object:
    stack = base_stack()
    seen = observed_for(Desired((stack,))).by_name()["shop-db"]
    return replace(seen, name=name, state="exited", exit_code=code,
                   started_at=started, finished_at=finished, created_at=1.0)


def test_quick_deaths_grow_the_delay_and_a_long_run_resets_it() -> None:
    book = RestartBook()
    assert book.note_death(_died("a", 100.0, 100.5), DOCKER, 101.0)  # type: ignore[arg-type]
    assert book.records["a"].due == pytest.approx(100.6)
    assert not book.note_death(_died("a", 100.0, 100.5), DOCKER, 101.0)  # type: ignore[arg-type]
    assert book.note_death(_died("a", 100.7, 101.0, 2), DOCKER, 101.0)  # type: ignore[arg-type]
    assert book.records["a"].due == pytest.approx(101.2)
    assert book.note_death(_died("a", 101.3, 130.0, 3), DOCKER, 130.0)  # type: ignore[arg-type]
    assert book.records["a"].due == pytest.approx(130.1)  # up 29 s >= reset_after: afresh
    assert list(book.records["a"].last_exits) == [1, 2, 3]
    assert book.records["a"].restarts == 3


def test_a_replaced_container_starts_a_fresh_record_and_state_round_trips() -> None:
    book = RestartBook()
    book.note_death(_died("a", 100.0, 100.5), DOCKER, 101.0)  # type: ignore[arg-type]
    book.note_death(_died("a", 100.7, 101.0), DOCKER, 101.0)  # type: ignore[arg-type]
    again = RestartBook.from_json(book.to_json())
    assert again.to_json() == book.to_json()
    newer = replace(_died("a", 200.0, 200.5), created_at=199.0)  # type: ignore[type-var]
    assert again.note_death(newer, DOCKER, 201.0)  # type: ignore[arg-type]
    assert again.records["a"].streak == 1 and again.records["a"].restarts == 1


def _shop_with_db_exited() -> tuple[Desired, object]:
    desired = Desired((base_stack(),))
    observed = replace_observed(observed_for(desired), "shop-db", state="exited", exit_code=137)
    return desired, observed


def test_a_start_whose_backoff_runs_is_deferred_with_its_due_time() -> None:
    desired, observed = _shop_with_db_exited()
    held = plan(desired, observed, PlanOptions(now=10.0, not_before={"shop-db": 12.5}))  # type: ignore[arg-type]
    assert held.empty
    assert held.deferred == (Deferred("shop-db", 12.5, "exited with code 137; restart: always"),)
    assert "shop-db" not in held.unchanged
    due = plan(desired, observed, PlanOptions(now=12.5, not_before={"shop-db": 12.5}))  # type: ignore[arg-type]
    assert [a.id for a in due.actions] == ["start:shop-db"] and not due.deferred


def test_a_container_the_user_stopped_is_never_started_by_a_plan() -> None:
    desired, observed = _shop_with_db_exited()
    result = plan(desired, observed, PlanOptions(user_stopped=frozenset({"shop-db"})))  # type: ignore[arg-type]
    assert result.empty and "shop-db" in result.unchanged


def test_an_unhealthy_container_with_on_unhealthy_restart_is_restarted() -> None:
    check = Healthcheck(kind="exec", exec=("false",), on_unhealthy="restart")
    spec = container("api", BASE_IMAGE, healthcheck=check,
                     restart=RestartPolicy(policy="always"))
    stack = replace(base_stack(), containers=(spec,))
    desired = Desired((stack,))
    observed = replace_observed(observed_for(desired), "shop-api", health="unhealthy")
    actions = plan(desired, observed).actions
    assert [(a.kind, a.reason) for a in actions] == [
        (Kind.RESTART, "unhealthy; on_unhealthy: restart")]
    quiet = replace(check, on_unhealthy="none")
    stack = replace(stack, containers=(replace(spec, healthcheck=quiet),))
    assert plan(Desired((stack,)), observed).empty
