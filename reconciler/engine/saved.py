"""`apply --plan FILE`: run a saved plan's actions exactly once, if it still holds.

Unlike `converge`, nothing is planned on top: the stack inputs and the host are checked
against the saved fingerprints, the plan is made again from the same inputs and must equal
the saved one action for action, and then exactly that plan runs. A `pull: always` image
whose tag moved during the pull would need replaces nobody reviewed: they are not run but
returned as `follow_up` (a fresh plan after the apply), for the caller to report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.drivers.base import Driver
from reconciler.engine.execute import ActionEvent, ExecutionResult, execute
from reconciler.model.actions import Kind, Plan
from reconciler.model.desired import Desired
from reconciler.model.records import record, replace
from reconciler.planner.plan import PlanOptions, plan
from reconciler.planner.saved import check_host, check_inputs, check_same_actions

_IMAGE_KINDS = frozenset({Kind.PULL, Kind.IMPORT, Kind.BUILD})


@record(frozen=True)
class SavedApply:
    plan: Plan
    result: ExecutionResult
    follow_up: Plan  # what a new plan would do now; never run by apply --plan


def verify_saved(doc: dict[str, Any], desired: Desired, driver: Driver,
                 options: PlanOptions) -> Plan:
    """The saved plan made again from the same inputs, or StalePlan saying what moved."""
    check_inputs(doc, desired)
    observed = driver.observe(options.scope)
    check_host(doc, desired, observed)
    current = plan(desired, observed, options)
    check_same_actions(doc, current)
    return current


def apply_saved(
    doc: dict[str, Any],
    desired: Desired,
    driver: Driver,
    options: PlanOptions,
    *,
    parallelism: int | None = None,
    on_event: Callable[[ActionEvent], None] | None = None,
) -> SavedApply:
    """StalePlan (nothing changed) when the saved plan no longer holds."""
    current = verify_saved(doc, desired, driver, options)
    result = execute(current, driver, parallelism=parallelism, on_event=on_event)
    pulled = frozenset(a.image.identity for a in current.actions
                       if a.kind in _IMAGE_KINDS and a.image is not None)
    after = replace(options, pulled=options.pulled | pulled)
    follow_up = plan(desired, driver.observe(options.scope), after)
    return SavedApply(current, result, follow_up)
