"""The Plan/Action model: what `plan()` returns and the renderers and executor read."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from reconciler.model.desired import ContainerSpec, ImageSource, VolumeSpec
from reconciler.model.errors import Problem
from reconciler.model.records import record


class Kind(StrEnum):
    PULL = "pull"  # ensure a `ref` image (driver.ensure_image)
    IMPORT = "import"  # ensure an `oci`/`archive` image
    BUILD = "build"  # ensure a `build:` image
    CREATE_VOLUME = "create-volume"
    CREATE = "create"  # create and start a container
    CREATE_STOPPED = "create-stopped"  # create only: a rollout step, its START follows
    START = "start"  # start an existing, stopped container
    REPLACE = "replace"  # stop-first: remove the old container, create and start the new one
    REMOVE = "remove"  # stop and remove a container
    RESTART = "restart"  # stop and start a running container (on_unhealthy: restart)
    REMOVE_VOLUME = "remove-volume"  # `down --volumes`
    WAIT_HEALTHY = "wait-healthy"  # a rollout step: wait until the target is healthy


@record(frozen=True)
class FieldChange:
    """One field that differs between what runs and what the spec says."""

    path: str  # dotted, e.g. "env.TZ", "image_digest", "limits.memory"
    old: Any
    new: Any


@record(frozen=True)
class Action:
    """One step of a plan, with the sentence that says why it is needed."""
    id: str  # unique in the plan, e.g. "replace:shop-db"
    kind: Kind
    target: str  # container name, image key or volume full name
    reason: str  # one sentence: why this action exists
    changes: tuple[FieldChange, ...] = ()
    depends_on: tuple[str, ...] = ()  # ids of actions that must succeed first
    stack: str = ""
    container: ContainerSpec | None = None  # CREATE(_STOPPED) / REPLACE / START / WAIT_HEALTHY
    image: ImageSource | None = None  # PULL / IMPORT / BUILD
    volume: VolumeSpec | None = None  # CREATE_VOLUME / REMOVE_VOLUME
    # The container whose start-first replace this action is a step of ("" if none): the
    # renderers count the steps as one replace.
    rollout: str = ""
    # WAIT_HEALTHY only: remove the target when it does not become healthy (the new version
    # of a start-first rollout, so that the old one keeps running alone).
    remove_on_failure: bool = False


@record(frozen=True)
class Deferred:
    """A start or restart the planner wants but not yet: its backoff runs until `due`."""

    name: str  # container name
    due: float  # seconds since the epoch (PlanOptions.not_before)
    reason: str  # why it would be (re)started


@record(frozen=True)
class Waiting:
    """A create/start/replace held back by a `depends_on` condition (healthy, completed)
    not met yet, or, `failed`, one that can no longer be met (docs/plan.md)."""

    name: str  # container name
    reason: str  # e.g. "waiting for db to be healthy"
    dependency: str = ""  # the dependency's container name the wait is about
    condition: str = ""  # "healthy" | "completed" | "started" (a dependency itself waits)
    failed: bool = False  # e.g. the `completed` dependency exited non-zero


@record(frozen=True)
class Plan:
    """What converging needs: ordered actions, plus what stays and what waits."""
    actions: tuple[Action, ...] = ()
    unchanged: tuple[str, ...] = ()  # container names that already match
    orphans: tuple[str, ...] = ()  # owned containers no longer in any spec (kept: no --prune)
    deferred: tuple[Deferred, ...] = ()  # starts held back by backoff, sorted by name
    waiting: tuple[Waiting, ...] = ()  # held back by depends_on conditions, sorted by name
    warnings: tuple[Problem, ...] = ()  # risky settings of the stacks in scope, located

    @property
    def empty(self) -> bool:
        return not self.actions

    def action(self, action_id: str) -> Action:
        for a in self.actions:
            if a.id == action_id:
                return a
        raise KeyError(action_id)
