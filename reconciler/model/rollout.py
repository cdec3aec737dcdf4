"""Names and deadlines of `update: {order: start-first}` rollouts, shared by the planner
(which writes the steps into the plan) and the engine (which waits for health)."""

from __future__ import annotations

from reconciler.model.desired import ContainerSpec

NEXT_SUFFIX = ".next"
NO_CHECK_RUN = 1.0  # without a healthcheck: still running after this long counts


def next_name(name: str) -> str:
    """The temporary name the new version runs under until the old one is gone."""
    return f"{name}{NEXT_SUFFIX}"


def deadline_of(spec: ContainerSpec) -> float:
    """Seconds the new version has to become healthy (`update.deadline`, else from its
    healthcheck: start_period + retries * interval + timeout)."""
    if spec.update_deadline is not None:
        return spec.update_deadline
    check = spec.healthcheck
    if check is None:
        return NO_CHECK_RUN + 5.0
    return check.start_period + check.retries * check.interval + check.timeout
