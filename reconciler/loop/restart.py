"""Restart backoff: when may a container that died (or turned unhealthy) run again?

Docker's rule: the delay starts at `initial` (100 ms) and is multiplied by `factor` (2) for
every consecutive failure, capped at `max` (1 min); a container that stayed up for at least
`reset_after` (10 s) starts a fresh streak. Pure bookkeeping: the clock is an argument and
the planner receives the result as `PlanOptions.not_before`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from reconciler.model.desired import Backoff
from reconciler.model.observed import ObservedContainer
from reconciler.model.records import field, record

LAST_EXITS = 5  # exit codes kept per container for `ps` and `status`


def backoff_delay(backoff: Backoff, streak: int) -> float:
    """Delay before restart number `streak + 1` of a consecutive run of failures."""
    if streak <= 0:
        return backoff.initial
    # Cap the exponent so a long streak never overflows a float.
    delay = backoff.initial * backoff.factor ** min(streak, 64)
    return min(delay, backoff.max)


@record
class RestartRecord:
    """What the loop knows about one container's deaths."""

    streak: int = 0  # consecutive short runs
    due: float = 0.0  # earliest next (re)start, seconds since the epoch
    last_exits: deque[int | None] = field(default_factory=lambda: deque(maxlen=LAST_EXITS))
    seen_finish: float | None = None  # finished_at of the last death counted
    seen_death: str = ""  # identity of the last death counted (run and exit time)
    restarts: int = 0  # restarts the loop asked for (deaths + unhealthy)
    created: float | None = None  # created_at of the container: a replaced one starts afresh

    def to_json(self) -> dict[str, Any]:
        return {"streak": self.streak, "due": self.due, "last_exits": list(self.last_exits),
                "seen_finish": self.seen_finish, "restarts": self.restarts,
                "created": self.created, "seen_death": self.seen_death}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RestartRecord:
        record = cls(int(data.get("streak", 0)), float(data.get("due", 0.0)))
        record.last_exits.extend(data.get("last_exits", []))
        finish = data.get("seen_finish")
        record.seen_finish = float(finish) if isinstance(finish, int | float) else None
        record.restarts = int(data.get("restarts", 0))
        record.seen_death = str(data.get("seen_death", ""))
        created = data.get("created")
        record.created = float(created) if isinstance(created, int | float) else None
        return record


class RestartBook:
    """Per-container backoff state, fed with observed deaths and unhealthy restarts."""

    def __init__(self) -> None:
        self.records: dict[str, RestartRecord] = {}

    def note_death(self, seen: ObservedContainer, backoff: Backoff, now: float) -> bool:
        """Count an exited container once per death; True when it is a new death."""
        if seen.state not in ("exited", "dead"):
            return False
        record = self._record(seen.name, seen.created_at)
        # A death is one run's end: a driver that knows no exit time still tells runs apart
        # by their start time and count.
        death = f"{seen.restart_count}:{seen.started_at}:{seen.finished_at}"
        finish = seen.finished_at if seen.finished_at is not None else now
        if death == record.seen_death or (
                record.seen_finish is not None and finish <= record.seen_finish):
            return False
        record.seen_death = death
        self._count(record, backoff, seen.started_at, finish)
        record.seen_finish = finish
        record.last_exits.append(seen.exit_code)
        return True

    def note_unhealthy(self, seen: ObservedContainer, backoff: Backoff, now: float) -> None:
        """An unhealthy container restarted by the loop counts like a death at `now`."""
        record = self._record(seen.name, seen.created_at)
        self._count(record, backoff, seen.started_at, now)
        record.seen_finish = max(record.seen_finish or 0.0, now)

    def _record(self, name: str, created: float | None) -> RestartRecord:
        record = self.records.get(name)
        if record is None or record.created != created:
            record = self.records[name] = RestartRecord(created=created)
        return record

    @staticmethod
    def _count(record: RestartRecord, backoff: Backoff, started: float | None,
               finish: float) -> None:
        ran = finish - started if started is not None else 0.0
        if ran >= backoff.reset_after:
            record.streak = 0
        record.due = finish + backoff_delay(backoff, record.streak)
        record.streak += 1
        record.restarts += 1

    def not_before(self) -> dict[str, float]:
        return {name: r.due for name, r in self.records.items() if r.due}

    def forget(self, names: set[str]) -> None:
        """Drop records of containers that no longer exist (removed or replaced)."""
        for name in set(self.records) - names:
            del self.records[name]

    def to_json(self) -> dict[str, Any]:
        return {name: r.to_json() for name, r in sorted(self.records.items())}

    @classmethod
    def from_json(cls, data: Any) -> RestartBook:
        book = cls()
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, dict):
                    book.records[name] = RestartRecord.from_json(value)
        return book
