"""What wakes a waiting convergence: a stack file change, a container death, a change of
health, a user's stop or start, a git revision fetched or a rollback asked for (`reconcile
sync`), a request to stop. The control loop queues them; so does a one-shot apply that
waits for depends_on conditions."""

from __future__ import annotations

from typing import Literal

from reconciler.model.records import record

WakeKind = Literal["stack", "death", "health", "intent", "stop", "sync"]


@record(frozen=True)
class Wake:
    kind: WakeKind
    subject: str  # a stack file path or a container name
    time: float = 0.0  # time.time() when the cause was seen
