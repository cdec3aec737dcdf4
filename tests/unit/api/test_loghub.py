"""One live reader per container for all log followers."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from reconciler.api.loghub import LogHub
from reconciler.drivers.base import LogLine


class FakeLog:
    """A followed log: lines put by the test, `None` ends it (the container stopped)."""

    def __init__(self) -> None:
        self.lines: queue.Queue[LogLine | None] = queue.Queue()
        self.readers = 0
        self.closed = threading.Event()

    def follow(self, name: str) -> Iterator[LogLine]:
        self.readers += 1
        try:
            while (line := self.lines.get()) is not None:
                yield line
        finally:
            self.closed.set()

    def say(self, text: str) -> None:
        self.lines.put(LogLine(time.time(), "stdout", text))


def _texts(q: object, count: int) -> list[str]:
    out = []
    while len(out) < count:
        item = q.get(2)  # type: ignore[attr-defined]
        assert item is not None, out
        out.append(item.text)
    return out


def test_followers_share_one_reader_and_each_gets_every_line() -> None:
    log = FakeLog()
    hub = LogHub(log.follow)
    a, b = hub.subscribe("web", 10), hub.subscribe("web", 10)
    for i in range(3):
        log.say(f"line{i}")
    assert _texts(a, 3) == _texts(b, 3) == ["line0", "line1", "line2"]
    assert log.readers == 1 and hub.followers("web") == 2
    hub.unsubscribe("web", a)
    hub.unsubscribe("web", b)
    log.say("after")  # the first line after the last follower left ends the reader
    assert log.closed.wait(2)
    assert hub.followers("web") == 0
    c = hub.subscribe("web", 10)  # a new follower: a new reader
    log.say("again")
    assert _texts(c, 1) == ["again"] and log.readers == 2
    hub.unsubscribe("web", c)
    log.lines.put(None)


def test_the_end_of_the_log_ends_every_follower() -> None:
    log = FakeLog()
    hub = LogHub(log.follow)
    a = hub.subscribe("web", 10)
    log.say("last words")
    log.lines.put(None)
    assert _texts(a, 1) == ["last words"]
    deadline = time.monotonic() + 2
    while not a.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert a.closed and a.get(0) is None


def test_a_follower_that_does_not_read_loses_lines_not_the_others() -> None:
    log = FakeLog()
    hub = LogHub(log.follow)
    slow, fast = hub.subscribe("web", 2), hub.subscribe("web", 100)
    for i in range(50):
        log.say(f"l{i}")
    assert _texts(fast, 50)[-1] == "l49"
    first = slow.get(0)
    assert getattr(first, "count", None) == 48  # the Dropped note, first
    hub.unsubscribe("web", slow)
    hub.unsubscribe("web", fast)
    log.lines.put(None)
