"""Observe and plan, without executing: what `plan` and `apply --dry-run` need of the
engine. Kept apart from converge.py so that a plan does not import the executor (its
thread pool, logging) and the health monitor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler.model.actions import Plan
from reconciler.model.desired import Desired
from reconciler.model.observed import Observed
from reconciler.planner.plan import PlanOptions, plan

if TYPE_CHECKING:  # a type only: the contract's records (five dataclasses) are not needed
    from reconciler.drivers.base import Driver


def scope_of(desired: Desired, extra: frozenset[str] = frozenset()) -> frozenset[str]:
    return frozenset(s.name for s in desired.stacks) | extra


# The control loop's hook between observe and plan: it overlays what only it knows
# (health) and derives time-based inputs (restart backoff) from what was just observed.
Prepare = Callable[[Observed, PlanOptions], tuple[Observed, PlanOptions]]


def make_plan(
    desired: Desired, driver: Driver, options: PlanOptions, prepare: Prepare | None = None,
    names: frozenset[str] | None = None,
) -> Plan:
    """`names`: observe only these containers (the loop's wake about deaths)."""
    observed = driver.observe(options.scope) if names is None else driver.observe(
        options.scope, names)
    if prepare is not None:
        observed, options = prepare(observed, options)
    return plan(desired, observed, options)
