"""`update: {order: start-first}`: a replace that keeps the old container until a new one
proved healthy. The fixed driver calls of a start-first `replace` action (execute.py):

1. create and start the new version under a temporary name `<name>.next` (same stack and
   key labels, its own address); wait until it is healthy (its healthcheck, or still running
   after 1 s without one) within the deadline (`update.deadline`, default the check's
   start_period + retries * interval + timeout). Never healthy: it is removed, the old one
   keeps running untouched, the action fails naming the health failure;
2. remove the old container, create and start the new version under the fixed name, wait
   until it is healthy too, then remove `<name>.next`.

At every moment one healthy instance runs. The price: the new version starts twice (names
are fixed per container and a runc id cannot be renamed; see docs/plan.md). An interrupted
rollout (kill -9) leaves `<name>.next` behind: it carries the ownership labels, so the next
plan removes it as a surplus replica and converges the fixed name as usual.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

from reconciler.drivers.base import Driver
from reconciler.engine.health import HealthState, run_probe
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import NotFound, ReconcileError
from reconciler.model.observed import ObservedContainer

NEXT_SUFFIX = ".next"
NO_CHECK_RUN = 1.0  # without a healthcheck: still running after this long counts


def next_name(name: str) -> str:
    return f"{name}{NEXT_SUFFIX}"


def deadline_of(spec: ContainerSpec) -> float:
    if spec.update_deadline is not None:
        return spec.update_deadline
    check = spec.healthcheck
    if check is None:
        return NO_CHECK_RUN + 5.0
    return check.start_period + check.retries * check.interval + check.timeout


def start_first(spec: ContainerSpec, driver: Driver) -> None:
    temp = replace(spec, name=next_name(spec.name))
    with contextlib.suppress(NotFound):
        driver.remove(temp.name)  # debris of an interrupted rollout
    driver.create(temp)
    driver.start(temp.name)
    try:
        wait_healthy(driver, temp)
    except ReconcileError:
        driver.remove(temp.name)  # the old one was never touched
        raise
    driver.remove(spec.name)
    driver.create(spec)
    driver.start(spec.name)
    wait_healthy(driver, spec)  # on failure the .next instance keeps serving
    driver.remove(temp.name)


def wait_healthy(driver: Driver, spec: ContainerSpec) -> None:
    """Return once `spec.name` is healthy; raise ReconcileError when it is not in time."""
    began = time.monotonic()
    deadline = began + deadline_of(spec)
    check = spec.healthcheck
    state = HealthState(check, time.time()) if check is not None else None
    while True:
        seen = _running(driver, spec)
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
                                 f"failed health checks; the old version keeps running")
        if time.monotonic() + check.interval > deadline:
            raise ReconcileError(f"{spec.name}: new version not healthy within "
                                 f"{deadline_of(spec):g}s; the old version keeps running")
        time.sleep(check.interval)


def _running(driver: Driver, spec: ContainerSpec) -> ObservedContainer:
    seen = driver.observe(frozenset({spec.stack})).by_name().get(spec.name)
    if seen is None or seen.state != "running" or seen.pid is None:
        state = "gone" if seen is None else f"{seen.state}, exit code {seen.exit_code}"
        raise ReconcileError(f"{spec.name}: new version stopped running ({state}); "
                             "the old version keeps running")
    return seen
