"""`depends_on` conditions for the pure planner: which planned creates/starts must wait.

A create, replace or start of a container is held back while one of its dependencies does
not meet its condition on the observed host:

- `started`: ordering only (the dependency's own action runs first, see plan.py), unless
  the dependency is itself held back: then the dependant waits too;
- `healthy`: every replica of the dependency runs and its health is `healthy`;
- `completed`: every replica of the dependency exited with code 0 (a one-shot job).

A dependency with a planned action of its own (it is being created, replaced or started)
or a backoff still running does not meet `healthy`/`completed` yet: the dependant waits
for the next plan. A condition that can no longer be met (the job exited non-zero and is
not restarted, the dependency is unhealthy with no restart, or not running at all) makes
the wait `failed`. Restarts of unhealthy containers are never held back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.model.actions import Kind, Waiting
from reconciler.model.desired import ContainerSpec, Dependency
from reconciler.model.observed import ObservedContainer

GATED = frozenset({Kind.CREATE, Kind.REPLACE, Kind.START})
_NOUN = {"healthy": "to be healthy", "completed": "to complete"}


def held_back(
    planned: Mapping[str, tuple[ContainerSpec, Kind]],
    replicas: Mapping[tuple[str, str], Sequence[ContainerSpec]],
    observed: Mapping[str, ObservedContainer],
    deferred: frozenset[str],
) -> dict[str, Waiting]:
    """Container name -> why its planned action must wait (or failed). Pure."""
    held: dict[str, Waiting] = {}
    changed = True
    while changed:  # a held dependency holds its dependants: repeat until nothing moves
        changed = False
        for name in sorted(planned):
            spec, kind = planned[name]
            if name in held or kind not in GATED:
                continue
            for dep in spec.depends_on:
                waiting = _unmet(spec, dep, replicas.get((spec.stack, dep.container), ()),
                                 planned, held, observed, deferred)
                if waiting is not None:
                    held[name] = waiting
                    changed = True
                    break
    return held


def _unmet(spec: ContainerSpec, dep: Dependency, replicas: Sequence[ContainerSpec],
           planned: Mapping[str, tuple[ContainerSpec, Kind]], held: Mapping[str, Waiting],
           observed: Mapping[str, ObservedContainer], deferred: frozenset[str]
           ) -> Waiting | None:
    for replica in sorted(replicas, key=lambda c: c.name):
        other = replica.name
        if other in held:
            return Waiting(spec.name, f"waiting for {other}: {held[other].reason}", other,
                           dep.condition, held[other].failed)
        if dep.condition == "started":
            continue
        pending = f"waiting for {other} {_NOUN[dep.condition]}"
        seen = observed.get(other)
        if other in planned or other in deferred or seen is None:
            return Waiting(spec.name, pending, other, dep.condition)
        problem = _check(replica, dep.condition, seen)
        if problem is not None:
            failed = problem != ""
            reason = f"{problem}; depends_on: {dep.condition}" if failed else pending
            if not failed and seen.health not in ("none", "healthy"):
                reason += f" (health: {seen.health})"
            return Waiting(spec.name, reason, other, dep.condition, failed)
    return None


def _check(replica: ContainerSpec, condition: str, seen: ObservedContainer) -> str | None:
    """None: met; "": not yet; otherwise why it never will be (without a new plan)."""
    stopped = seen.state in ("exited", "dead")
    code = "" if seen.exit_code is None else f" with code {seen.exit_code}"
    if condition == "completed":
        if not stopped:
            return ""
        if seen.exit_code == 0 and not seen.oom_killed:
            return None
        return f"{seen.name} exited{code}{' (OOM-killed)' if seen.oom_killed else ''}"
    if stopped:
        return f"{seen.name} is not running (exited{code})"
    if seen.state != "running":
        return ""
    if seen.health == "healthy":
        return None
    check = replica.healthcheck
    if seen.health == "unhealthy" and (check is None or check.on_unhealthy != "restart"):
        return f"{seen.name} is unhealthy"
    return ""
