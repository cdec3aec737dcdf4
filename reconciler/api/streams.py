"""The streamed bodies: SSE events, followed logs, periodic stats. Each runs in its
connection's thread and reads a bounded per-client queue; the producers never wait for
the client (a full queue drops, and the client is told how many)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from reconciler.api.feed import Dropped, FeedEvent, drain, sse_comment, sse_frame
from reconciler.api.view import LoopView
from reconciler.drivers.base import LogLine
from reconciler.model.hashing import mask_text

TICK = 1.0  # seconds between checks that the client is still there
KEEPALIVE = 15.0  # seconds between SSE comments on a quiet stream
LOG_BUFFER = 2000  # lines a log follower may be behind before lines are dropped
BATCH = 500  # lines written at most in one chunk


def event_stream(view: LoopView, last_id: int | None, tick: float = TICK) -> Iterator[bytes]:
    """SSE: the kept events after `last_id`, then the live ones. A `dropped` event
    says how many a slow reader lost."""
    backlog, reader = view.subscribe(last_id)
    try:
        yield sse_comment(f"reconcile events; last id {view.events.last_id}")
        for event in backlog:
            yield _event_frame(event)
        quiet = time.monotonic()
        for item in drain(reader, tick):
            if item is None:
                if time.monotonic() - quiet >= KEEPALIVE:
                    quiet = time.monotonic()
                    yield sse_comment("keep-alive")
                else:
                    yield b""  # an idle tick: the writer checks the client
                continue
            quiet = time.monotonic()
            if isinstance(item, Dropped):
                yield sse_frame(json.dumps({"dropped": item.count,
                                            "note": f"dropped {item.count} events"}),
                                event="dropped")
            else:
                yield _event_frame(item)
    finally:
        view.unsubscribe(reader)


def _event_frame(event: FeedEvent) -> bytes:
    return sse_frame(json.dumps(event.to_json(), default=str), event="loop", event_id=event.id)


def log_stream(view: LoopView, name: str, follow: bool, tail: int | None,
               text: bool, since: float | None = None, tick: float = TICK
               ) -> Iterator[bytes]:
    """The container's lines as NDJSON (`{"time","stream","text"}`) or plain text; a
    follower that falls LOG_BUFFER lines behind gets `{"dropped": N}` in their place.
    Followers share one reader per container (loghub.py); what arrived while the tail was
    read is not sent twice."""
    if not follow:
        for line in view.logs(name, follow=False, tail=tail, since=since):
            yield _log_chunk(line, text)
        return
    queue = view.follow_logs(name, LOG_BUFFER)  # before the tail: no line falls between
    try:
        last = since or 0.0
        for line in view.logs(name, follow=False, tail=tail, since=since):
            last = max(last, line.time)
            yield _log_chunk(line, text)
        for item in drain(queue, tick):
            if item is None:
                yield b""
                continue
            parts = [item]  # and whatever else is waiting: one write, not one per line
            while len(parts) < BATCH and (more := queue.get(0)) is not None:
                parts.append(more)
            yield b"".join(_item_chunk(p, text, last) for p in parts)
    finally:
        view.unfollow_logs(name, queue)


def _item_chunk(item: LogLine | Dropped, text: bool, last: float) -> bytes:
    if isinstance(item, Dropped):
        note = f"dropped {item.count} lines"
        return (f"[{note}]\n".encode() if text else
                json.dumps({"dropped": item.count, "note": note}).encode() + b"\n")
    return b"" if item.time <= last else _log_chunk(item, text)


def _log_chunk(line: LogLine, text: bool) -> bytes:
    body = line.text if line.text.endswith("\n") else line.text + "\n"
    if text:
        return body.encode()
    doc: dict[str, Any] = {"time": line.time, "stream": line.stream, "text": line.text}
    return json.dumps(doc).encode() + b"\n"


def stats_stream(view: LoopView, name: str, interval: float, tick: float = TICK
                 ) -> Iterator[bytes]:
    """One NDJSON sample every `interval` seconds until the container is gone."""
    while True:
        try:
            sample = view.stats(name)
        except Exception as exc:  # gone, or stopped: the stream ends with why
            yield json.dumps({"end": mask_text(type(exc).__name__)}).encode() + b"\n"
            return
        yield json.dumps({**sample, "time": time.time()}).encode() + b"\n"
        waited = 0.0
        while waited < interval:
            step = min(tick, interval - waited)
            time.sleep(step)
            waited += step
            yield b""
