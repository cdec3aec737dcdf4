"""One reader of a container's live log for all its followers.

Each API follower reading the driver's log on its own multiplies the work (the native
driver polls and parses the file per reader): 100 followers of a chatty container kept
the GIL busy enough to delay the loop's restarts by seconds (bench/bench_api.py). The hub
follows each container once, from its current end, and offers every line to each
follower's bounded `ClientQueue` (never blocking: a full queue drops and counts). The
reader thread ends at the first line after its last follower left, or when the log ends
(the container stopped), which ends its followers' streams too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from reconciler.api.feed import ClientQueue
from reconciler.drivers.base import LogLine

Follow = Callable[[str], Iterator[LogLine]]  # the live lines of a container, from now on


class _Feed:
    def __init__(self) -> None:
        self.readers: set[ClientQueue[LogLine]] = set()
        self.done = False


class LogHub:
    def __init__(self, follow: Follow) -> None:
        self._follow = follow
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()

    def subscribe(self, name: str, size: int) -> ClientQueue[LogLine]:
        queue: ClientQueue[LogLine] = ClientQueue(size)
        with self._lock:
            feed = self._feeds.get(name)
            if feed is None or feed.done:
                feed = self._feeds[name] = _Feed()
                threading.Thread(target=self._pump, args=(name, feed), daemon=True,
                                 name=f"api-logs-{name}").start()
            feed.readers.add(queue)
        return queue

    def unsubscribe(self, name: str, queue: ClientQueue[LogLine]) -> None:
        queue.close()
        with self._lock:
            feed = self._feeds.get(name)
            if feed is not None:
                feed.readers.discard(queue)

    def followers(self, name: str) -> int:
        with self._lock:
            feed = self._feeds.get(name)
            return len(feed.readers) if feed and not feed.done else 0

    def _pump(self, name: str, feed: _Feed) -> None:
        lines = self._follow(name)
        try:
            for line in lines:
                with self._lock:
                    readers = list(feed.readers)
                if not readers:
                    break
                for reader in readers:
                    reader.put(line)
        except Exception:  # the container was removed: its log just ends
            pass
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            with self._lock:
                feed.done = True
                if self._feeds.get(name) is feed:
                    del self._feeds[name]
                readers = list(feed.readers)
            for reader in readers:
                reader.close()
