"""One-shot `apply` waits for `depends_on` conditions (healthy, completed).

The planner holds back a dependant whose dependency is not healthy or has not completed
yet (Plan.waiting). The control loop simply re-plans when a probe's status changes or a
container exits; a one-shot apply has no loop, so it settles here: it runs the health
probes of the dependencies itself (reconciler.health, with each check's interval, timeout,
retries and start_period), observes again on every probe change and at least every
POLL seconds (to see a job exit), re-plans and executes what became ready, until nothing
waits, a condition failed for good, an action failed, or the deadline passed.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable

from reconciler.drivers.base import Driver
from reconciler.engine.convergence import Convergence
from reconciler.engine.execute import ActionEvent, execute
from reconciler.engine.health import HealthMonitor
from reconciler.engine.wake import Wake
from reconciler.model.actions import Plan
from reconciler.model.desired import ContainerSpec, Desired
from reconciler.model.observed import Observed
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan

POLL = 0.2  # seconds between observations while only waiting (job exits are polled)


def probed_dependencies(desired: Desired) -> dict[str, ContainerSpec]:
    """Name -> spec of every replica some container waits for to be healthy."""
    wanted = {(c.stack, d.container) for c in desired.containers() for d in c.depends_on
              if d.condition == "healthy"}
    return {c.name: c for c in desired.containers()
            if (c.stack, c.key) in wanted and c.healthcheck is not None}


def settle(desired: Desired, driver: Driver, options: PlanOptions, out: Convergence,
           timeout: float, *, parallelism: int | None = None,
           on_plan: Callable[[Plan, int], None] | None = None,
           on_event: Callable[[ActionEvent], None] | None = None) -> None:
    """Plan, execute what is ready, wait for conditions; records into `out`."""
    deadline = time.monotonic() + timeout
    wakes: queue.Queue[Wake] = queue.Queue()
    monitor = HealthMonitor(driver, wakes)
    probed = probed_dependencies(desired)
    try:
        while True:
            observed = monitor.overlay(driver.observe(options.scope))
            monitor.sync(observed, probed)  # new runs of the dependencies get a prober
            options = replace(options, now=time.time())
            current = plan(desired, observed, options)
            if current.actions:
                out.plans.append(current)
                if on_plan is not None:
                    on_plan(current, len(out.plans) - 1)
                result = execute(current, driver, parallelism=parallelism, on_event=on_event)
                out.results.append(result)
                if not result.ok:
                    out.unmet = list(current.waiting)
                    return
                continue
            pending = [w for w in current.waiting if not w.failed]
            if on_plan is not None and pending:
                on_plan(current, len(out.plans))
            if not pending or time.monotonic() >= deadline:
                out.unmet = list(current.waiting)
                out.timed_out = bool(pending)
                return
            _sleep(wakes, min(POLL, deadline - time.monotonic()))
    finally:
        monitor.stop()


def _sleep(wakes: queue.Queue[Wake], timeout: float) -> None:
    """Until a probe status changes or `timeout` passes (then observe again)."""
    with contextlib.suppress(queue.Empty):
        wakes.get(timeout=max(0.0, timeout))
        while True:
            wakes.get_nowait()


__all__ = ["Observed", "probed_dependencies", "settle"]
