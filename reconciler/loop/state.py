"""The status documents the loop writes: per stack and per container (pure helpers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.loop.restart import RestartBook
from reconciler.loop.stacks import StackEntry
from reconciler.model import restart
from reconciler.model.desired import ContainerSpec
from reconciler.model.observed import Observed, ObservedContainer


def stack_status(entry: StackEntry, last_error: str | None = None) -> dict[str, Any]:
    """`last_error`: the failed actions of the stack in the last convergence, if any."""
    return {
        "file": entry.path, "stack": entry.name, "revision": entry.revision,
        "loaded_at": entry.loaded_at, "applied_at": entry.applied_at,
        "problems": list(entry.problems), "deleted": entry.deleted,
        "last_error": last_error,
    }


def gave_up(seen: ObservedContainer, spec: ContainerSpec | None) -> bool:
    """on-failure:N used up its N restarts on a failing exit (the planner leaves it)."""
    return spec is not None and restart.gave_up(spec.restart, seen)


def loop_state(seen: ObservedContainer, spec: ContainerSpec | None, due: float | None,
               stopped: bool) -> str:
    if stopped and seen.state in ("exited", "dead"):
        return "user-stopped"
    if due is not None:
        return "backoff"
    if gave_up(seen, spec):
        return "gave-up"
    return seen.state


def container_status(observed: Observed, specs: Mapping[str, ContainerSpec],
                     book: RestartBook, deferred: Mapping[str, float],
                     stopped: frozenset[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for seen in sorted(observed.containers, key=lambda c: c.name):
        record = book.records.get(seen.name)
        spec = specs.get(seen.name)
        due = deferred.get(seen.name)
        out[seen.name] = {
            "state": loop_state(seen, spec, due, seen.name in stopped),
            "observed_state": seen.state,
            "next_attempt": due,
            "last_exits": list(record.last_exits) if record else [],
            "restarts": seen.restart_count,
            "health": seen.health,
            "exit_code": seen.exit_code,
            "policy": spec.restart.policy if spec else None,
            "max_retries": spec.restart.max_retries if spec else None,
        }
    return out
