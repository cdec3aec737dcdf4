"""Actions under construction and their final order: the planner builds mutable drafts,
then freezes them into `Action`s in a stable topological order."""

from __future__ import annotations

import heapq
from collections import defaultdict

from reconciler.model.actions import Action, FieldChange, Kind
from reconciler.model.desired import ContainerSpec, ImageSource, VolumeSpec
from reconciler.model.records import field, record

# Ties in the dependency order are broken by phase, then by target, so output is stable
# and reads naturally: images, volumes, removals, container starts, volume removals.
PHASE = {
    Kind.PULL: 0,
    Kind.IMPORT: 0,
    Kind.BUILD: 0,
    Kind.CREATE_VOLUME: 1,
    Kind.REMOVE: 2,
    Kind.REPLACE: 3,
    Kind.CREATE: 3,
    Kind.CREATE_STOPPED: 3,
    Kind.START: 3,
    Kind.WAIT_HEALTHY: 3,
    Kind.RESTART: 3,
    Kind.REMOVE_VOLUME: 4,
}


@record
class Draft:
    """A mutable action under construction; frozen into an `Action` at the end."""

    id: str
    kind: Kind
    target: str
    reason: str
    stack: str
    changes: tuple[FieldChange, ...] = ()
    depends_on: set[str] = field(default_factory=set)
    container: ContainerSpec | None = None
    image: ImageSource | None = None
    volume: VolumeSpec | None = None
    rollout: str = ""
    remove_on_failure: bool = False


def freeze(draft: Draft) -> Action:
    return Action(
        id=draft.id,
        kind=draft.kind,
        target=draft.target,
        reason=draft.reason,
        changes=draft.changes,
        depends_on=tuple(sorted(draft.depends_on)),
        stack=draft.stack,
        container=draft.container,
        image=draft.image,
        volume=draft.volume,
        rollout=draft.rollout,
        remove_on_failure=draft.remove_on_failure,
    )


def in_dependency_order(drafts: dict[str, Draft]) -> tuple[Action, ...]:
    """Kahn's algorithm with a heap, so ties break by (phase, target) and output is stable."""
    waiting = {i: len(d.depends_on) for i, d in drafts.items()}
    dependants: dict[str, list[str]] = defaultdict(list)
    for draft in drafts.values():
        for dep in draft.depends_on:
            dependants[dep].append(draft.id)
    ready = [(PHASE[d.kind], d.target, d.id) for d in drafts.values() if not d.depends_on]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, _, action_id = heapq.heappop(ready)
        ordered.append(freeze(drafts[action_id]))
        for nxt in dependants[action_id]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                d = drafts[nxt]
                heapq.heappush(ready, (PHASE[d.kind], d.target, d.id))
    if len(ordered) != len(drafts):  # validation rejects cycles; this guards the invariant
        raise ValueError("dependency cycle among actions")
    return tuple(ordered)
