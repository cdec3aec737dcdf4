"""Neutral observed state, returned by every driver's `observe()`.

The planner reads only these dataclasses, never raw runtime or Docker JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from reconciler.model.desired import Healthcheck
from reconciler.model.records import field, record

State = Literal["created", "running", "paused", "exited", "dead", "unknown"]
Health = Literal["none", "starting", "healthy", "unhealthy"]


@record(frozen=True)
class ObservedContainer:
    """An owned container as the driver found it on the host."""
    name: str
    stack: str
    key: str  # the container's key in its stack (label io.reconcile.container)
    labels: Mapping[str, str]
    config_hash: str
    image_digest: str
    state: State
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    health: Health = "none"
    pid: int | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    # The hashed form of the spec it was created from (hashing.hashed_fields), for
    # field-level diffs; None when the driver could not recover it.
    recorded_spec: Mapping[str, Any] | None = None
    # IPv4 addresses on the container's private network (empty for host/none).
    addresses: tuple[str, ...] = ()
    # Objects of its network found missing or down behind our back ("veth rc12ab missing");
    # the planner replaces a live container that has any (docs/plan.md).
    drift: tuple[str, ...] = ()
    # The health check in effect: the spec's, or the image's own (HEALTHCHECK) when the
    # spec has none; None when neither has one. The control loop runs it.
    healthcheck: Healthcheck | None = None


@record(frozen=True)
class Observed:
    """What the driver found on the host: containers, images and volumes."""
    containers: tuple[ObservedContainer, ...] = ()
    # Image identity (model.ImageSource.identity) -> digest, for images present locally.
    images: Mapping[str, str] = field(default_factory=dict)
    # Full names ("<stack>-<name>") of named volumes that exist.
    volumes: frozenset[str] = frozenset()

    def by_name(self) -> dict[str, ObservedContainer]:
        return {c.name: c for c in self.containers}
