"""`update: {order: start-first}`: the engine's half of a rollout, the health wait.

The planner writes a start-first replace out as eight actions (planner/rollout.py):
create and start the new version as `<name>.next`, wait until it is healthy, remove the old
container, create and start the new version under its own name, wait again, remove
`<name>.next`. The executor runs each as one driver call; `wait-healthy` actions come here.
A wait whose action says `remove_on_failure` (the one for `<name>.next`) removes its target
when it does not become healthy: the old container was never touched and keeps running,
the action fails naming the health failure, and the executor skips the rest of the chain.

At every moment one healthy instance runs. The price: the new version starts twice (names
are fixed per container and a runc id cannot be renamed; see docs/plan.md). An interrupted
rollout (kill -9) leaves `<name>.next` behind: it carries the ownership labels, so the next
plan removes it first.
"""

from __future__ import annotations

import time

from reconciler.drivers.base import Driver
from reconciler.engine.health import HealthState, run_probe
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import ReconcileError
from reconciler.model.observed import ObservedContainer
from reconciler.model.rollout import NEXT_SUFFIX, NO_CHECK_RUN, deadline_of, next_name

__all__ = ["NEXT_SUFFIX", "deadline_of", "next_name", "wait_healthy", "wait_step"]


def wait_step(driver: Driver, spec: ContainerSpec, remove_on_failure: bool) -> None:
    """A `wait-healthy` action: wait for `spec.name`; if it fails and the action says so,
    remove the container before failing (its failure path is part of the action)."""
    keeps = "removed; the old version keeps running" if remove_on_failure else \
        "the temporary copy keeps serving"
    try:
        wait_healthy(driver, spec, keeps)
    except Exception:
        if remove_on_failure:
            driver.remove(spec.name)  # the old one was never touched
        raise


def wait_healthy(driver: Driver, spec: ContainerSpec,
                 keeps: str = "the old version keeps running") -> None:
    """Return once `spec.name` is healthy; raise ReconcileError when it is not in time.
    `keeps` ends the error message: what still serves."""
    began = time.monotonic()
    deadline = began + deadline_of(spec)
    check = spec.healthcheck
    state = HealthState(check, time.time()) if check is not None else None
    while True:
        seen = _running(driver, spec, keeps)
        if state is None or check is None:
            if time.monotonic() - began >= NO_CHECK_RUN:
                return
            time.sleep(0.1)
            continue
        state.record(run_probe(driver, seen, check), time.time())
        if state.status == "healthy":
            return
        if state.status == "unhealthy":
            raise ReconcileError(f"{spec.name}: new version is unhealthy after {check.retries} "
                                 f"failed health checks; {keeps}")
        if time.monotonic() + check.interval > deadline:
            raise ReconcileError(f"{spec.name}: new version not healthy within "
                                 f"{deadline_of(spec):g}s; {keeps}")
        time.sleep(check.interval)


def _running(driver: Driver, spec: ContainerSpec, keeps: str) -> ObservedContainer:
    seen = driver.observe(frozenset({spec.stack})).by_name().get(spec.name)
    if seen is None or seen.state != "running" or seen.pid is None:
        state = "gone" if seen is None else f"{seen.state}, exit code {seen.exit_code}"
        raise ReconcileError(f"{spec.name}: new version stopped running ({state}); {keeps}")
    return seen
