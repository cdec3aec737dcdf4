"""The docker driver's event stream: the engine's /events, read in a thread.

`die` becomes a DriverEvent (with the exit code; an `oom` just before it sets
oom_killed). Only containers carrying our stack label are asked for. When the engine
goes away (restarted, upgraded) the thread reconnects with a growing pause; after a
reconnect it reports every one of our containers that is not running as died, since the
engine keeps no events across its restart and the loop must re-observe them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler.drivers.base import DriverEvent
from reconciler.model import labels as labelkeys

Sink = Callable[[DriverEvent], None]
RETRY_FIRST, RETRY_MAX = 0.2, 5.0


class EngineEvents:
    """A Subscription: delivers deaths to `sink` until closed."""

    def __init__(self, api: Any, sink: Sink) -> None:
        self.api, self.sink = api, sink
        self._closed = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()
        self._oom: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._ready = threading.Event()

    def start(self) -> EngineEvents:
        self._thread.start()
        self._ready.wait(5.0)  # subscribed before returning: no death is missed after
        return self

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        pause, since, first = RETRY_FIRST, None, True
        while not self._closed.is_set():
            try:
                stream = self.api.events(decode=True, since=since, filters={
                    "type": "container", "event": ["die", "oom"], "label": [labelkeys.STACK]})
                with self._lock:
                    self._stream = stream
                self._ready.set()
                if not first:
                    self._report_stopped()
                first, pause = False, RETRY_FIRST
                for event in stream:
                    since = event.get("time", since)
                    self._handle(event)
            except Exception:  # the engine went away: reconnect below
                self._ready.set()
            if self._closed.wait(pause):
                return
            pause = min(pause * 2, RETRY_MAX)

    def _handle(self, event: dict[str, Any]) -> None:
        if self._closed.is_set():
            return
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        name = str(attributes.get("name", ""))
        action = event.get("Action") or event.get("status")
        if action == "oom":
            self._oom.add(name)
            return
        if action != "die" or not name:
            return
        try:
            code: int | None = int(str(attributes.get("exitCode")))
        except (TypeError, ValueError):
            code = None
        oom = name in self._oom
        self._oom.discard(name)
        self.sink(DriverEvent("died", name, time.time(), exit_code=code, oom_killed=oom))

    def _report_stopped(self) -> None:
        try:
            listed = self.api.containers(all=True, filters={"label": labelkeys.STACK})
        except Exception:
            return
        for summary in listed:
            if summary.get("State") != "running" and not self._closed.is_set():
                name = str((summary.get("Names") or ["/"])[0]).lstrip("/")
                self.sink(DriverEvent("died", name, time.time()))
