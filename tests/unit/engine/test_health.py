"""The health state machine (Docker's rules)."""

from __future__ import annotations

from reconciler.engine.health import HealthState
from reconciler.model.desired import Healthcheck

CHECK = Healthcheck(kind="tcp", port=1, retries=3, start_period=10.0)


def status(state: HealthState) -> str:
    return state.status


def test_starting_until_a_success_and_failures_in_the_start_period_do_not_count() -> None:
    state = HealthState(CHECK, started=100.0)
    assert not state.record(False, 105.0)  # within start_period: ignored
    assert status(state) == "starting" and state.failures == 0
    assert state.record(True, 106.0) and status(state) == "healthy"


def test_unhealthy_after_retries_consecutive_failures_and_one_success_heals() -> None:
    state = HealthState(CHECK, started=100.0)
    state.record(True, 101.0)
    changes = [state.record(False, t) for t in (120.0, 121.0, 122.0)]
    assert changes == [False, False, True] and status(state) == "unhealthy"
    assert state.record(True, 123.0) and status(state) == "healthy" and state.failures == 0


def test_a_healthy_container_failing_in_its_start_period_still_counts() -> None:
    state = HealthState(CHECK, started=100.0)
    state.record(True, 101.0)
    for t in (102.0, 103.0, 104.0):
        state.record(False, t)
    assert state.status == "unhealthy"
