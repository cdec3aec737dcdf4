"""One convergence: observe -> plan -> execute, repeated while image actions ran.

Images are planned like everything else, but a container's digest is only known once its
image is in the store (a moved tag is seen after `pull: always`). So after a pass that
ensured images, the host is observed and planned again; the executor itself never decides.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.drivers.base import Driver
from reconciler.engine.convergence import Convergence
from reconciler.engine.execute import ActionEvent, execute
from reconciler.engine.planning import Prepare, make_plan, scope_of
from reconciler.model.actions import Kind, Plan
from reconciler.model.desired import Desired
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions

__all__ = ["Prepare", "converge", "make_plan", "scope_of"]

IMAGE_KINDS = frozenset({Kind.PULL, Kind.IMPORT, Kind.BUILD})
MAX_PASSES = 3


def converge(
    desired: Desired,
    driver: Driver,
    options: PlanOptions,
    *,
    parallelism: int | None = None,
    on_plan: Callable[[Plan, int], None] | None = None,
    on_event: Callable[[ActionEvent], None] | None = None,
    prepare: Prepare | None = None,
    wait: float | None = None,
    names: frozenset[str] | None = None,
) -> Convergence:
    """Apply until a plan has no image actions left to run (at most MAX_PASSES). With
    `wait` (seconds; one-shot apply), then wait for depends_on conditions and apply what
    becomes ready (converge_wait.settle); the loop re-plans on its own wakes instead.
    `names`: the first pass observes only those containers (the loop's `prepare` hook
    completes the view from its last one); later passes observe everything."""
    out = Convergence()
    for attempt in range(MAX_PASSES):
        current = make_plan(desired, driver, options, prepare, names if attempt == 0 else None)
        if attempt > 0 and current.empty:
            break
        out.plans.append(current)
        if on_plan is not None:
            on_plan(current, attempt)
        if current.empty:
            break
        result = execute(current, driver, parallelism=parallelism, on_event=on_event)
        out.results.append(result)
        images = {a.image.identity for a in current.actions
                  if a.kind in IMAGE_KINDS and a.image is not None}
        if not result.ok or not images:
            break
        options = replace(options, pulled=options.pulled | images)
    if wait is not None and out.ok and any(p.waiting for p in out.plans):
        from reconciler.engine.wait import settle  # its health monitor: not for `down`

        settle(desired, driver, options, out, wait, parallelism=parallelism,
               on_plan=on_plan, on_event=on_event)
    return out
