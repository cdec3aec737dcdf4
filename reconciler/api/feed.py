"""Events for many readers without stalling the writer.

`EventRing` keeps the last N loop events, each with an increasing id (SSE `id:`), so a
client that reconnects with `Last-Event-ID` gets what it missed while it is still kept.
`ClientQueue` is one reader's bounded buffer: `put` never blocks; when full, the item is
dropped and counted, and the reader gets a note of how many were lost.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from reconciler.model.records import record

T = TypeVar("T")


@record(frozen=True)
class FeedEvent:
    id: int
    kind: str
    name: str
    time: float
    attrs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.kind, "name": self.name, "time": self.time,
                **self.attrs}


@record(frozen=True)
class Dropped:
    """What a reader gets in place of the items its full buffer could not hold."""

    count: int


class ClientQueue(Generic[T]):
    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._items: collections.deque[T] = collections.deque()
        self._dropped = 0
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Never blocks: False (and counted) when the buffer is full or closed."""
        with self._cond:
            if self._closed:
                return False
            if len(self._items) >= self.size:
                self._dropped += 1
                return False
            self._items.append(item)
            self._cond.notify()
            return True

    def get(self, timeout: float) -> T | Dropped | None:
        """The next item, a `Dropped` note first if some were lost, or None on timeout
        (or once closed and drained)."""
        with self._cond:
            if not self._items and not self._dropped and not self._closed:
                self._cond.wait(timeout)
            if self._dropped:
                note, self._dropped = Dropped(self._dropped), 0
                return note
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class EventRing:
    def __init__(self, keep: int = 1000, client_buffer: int = 1000) -> None:
        self._ring: collections.deque[FeedEvent] = collections.deque(maxlen=keep)
        self._next_id = 1
        self._readers: set[ClientQueue[FeedEvent]] = set()
        self._lock = threading.Lock()
        self.client_buffer = client_buffer

    def append(self, kind: str, name: str, attrs: dict[str, Any],
               when: float | None = None) -> FeedEvent:
        """From any thread (the loop's, the executor's): O(readers), never blocks."""
        with self._lock:
            event = FeedEvent(self._next_id, kind, name, when or time.time(), attrs)
            self._next_id += 1
            self._ring.append(event)
            readers = list(self._readers)
        for reader in readers:
            reader.put(event)
        return event

    def since(self, last_id: int | None, limit: int | None = None) -> list[FeedEvent]:
        """Kept events after `last_id` (all kept when None), oldest first."""
        with self._lock:
            events = [e for e in self._ring if last_id is None or e.id > last_id]
        return events[-limit:] if limit else events

    def subscribe(self, last_id: int | None = None
                  ) -> tuple[list[FeedEvent], ClientQueue[FeedEvent]]:
        """The backlog after `last_id` and a queue of what comes next, with no gap or
        duplicate between them."""
        reader: ClientQueue[FeedEvent] = ClientQueue(self.client_buffer)
        with self._lock:
            backlog = [e for e in self._ring if last_id is not None and e.id > last_id]
            self._readers.add(reader)
        return backlog, reader

    def unsubscribe(self, reader: ClientQueue[FeedEvent]) -> None:
        reader.close()
        with self._lock:
            self._readers.discard(reader)

    @property
    def readers(self) -> int:
        with self._lock:
            return len(self._readers)

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next_id - 1


def sse_frame(data: str, event: str | None = None, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: each line of `data` its own `data:` field."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def sse_comment(text: str) -> bytes:
    """A comment line: keeps the connection alive, ignored by EventSource."""
    return f": {text}\n\n".encode()


def drain(reader: ClientQueue[T], timeout: float) -> Iterator[T | Dropped | None]:
    """Items as they come; None at each `timeout` without one (for keep-alives)."""
    while True:
        item = reader.get(timeout)
        if item is None and reader.closed:
            return  # closed and drained: nothing is lost at the end
        yield item
