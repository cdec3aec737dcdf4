"""The engine's /events as DriverEvents: deaths with exit codes, OOM kills, and a
reconnect after the engine went away."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from reconciler.drivers.base import DriverEvent
from reconciler.drivers.docker.events import EngineEvents


def event(action: str, name: str, **attributes: str) -> dict[str, Any]:
    return {"Action": action, "time": 1, "Actor": {"Attributes": {"name": name, **attributes}}}


class FakeEngine:
    """First stream: an OOM kill then a die; then the engine 'restarts' (the stream
    breaks), and the next stream stays open until closed."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = threading.Event()

    def events(self, **_: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            return iter([event("oom", "shop-db"), event("die", "shop-db", exitCode="137"),
                         event("die", "shop-web", exitCode="0")])
        if self.calls == 2:
            raise ConnectionError("engine restarting")
        return _Blocking(self.closed)

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        return [{"Names": ["/shop-web"], "State": "exited"},
                {"Names": ["/shop-db"], "State": "running"}]


class _Blocking:
    def __init__(self, closed: threading.Event) -> None:
        self._closed = closed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._closed.wait(10)
        return iter(())

    def close(self) -> None:
        self._closed.set()


def test_deaths_oom_and_a_reconnect() -> None:
    got: list[DriverEvent] = []
    three = threading.Event()

    def sink(e: DriverEvent) -> None:
        got.append(e)
        if len(got) == 3:
            three.set()

    engine = FakeEngine()
    subscription = EngineEvents(engine, sink).start()
    assert three.wait(10)
    subscription.close()
    assert [(e.name, e.exit_code, e.oom_killed) for e in got] == [
        ("shop-db", 137, True), ("shop-web", 0, False),
        ("shop-web", None, False)]  # after the reconnect: what is not running is reported
    assert engine.calls == 3
