"""The native driver's event stream: container deaths, seen through inotify.

Each container's monitor writes `exit.json` in the container's state folder the moment
the container exits (atomically, renamed in from the container's logs/). One thread reads
one inotify fd that watches the folder of containers for new container folders and each
container folder for that file arriving, and turns its arrival into a `DriverEvent`. Only
the driver knows these files; the control loop sees the events.

A bare inotify fd rather than a watchdog observer (issue 14, exit -> decision p99): the
kernel then queues only what can be an exit record (IN_MOVED_TO, IN_CLOSE_WRITE) instead of
every open and read of every record observe makes, an event reaches the sink in one thread
instead of three (reader, one emitter per folder, dispatcher), and no move is held back
to be paired (watchdog holds an IN_MOVED_FROM up to 0.5 s, and every event behind it).
"""

from __future__ import annotations

import json
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.drivers.base import DriverEvent
from reconciler.drivers.native.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    Inotify,
)

EXIT_FILE = "exit.json"
Sink = Callable[[DriverEvent], None]
# containers/: a container folder made (mkdir) or moved in
FOLDERS_MASK = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW
# containers/<name>/: a file renamed in or written; only exit.json counts
EXITS_MASK = IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW


def death_event(folder: Path) -> DriverEvent:
    """The event for the exit record in `folder`; a record not readable yet still says
    that the container died (observe() reads the details)."""
    try:
        record = json.loads((folder / EXIT_FILE).read_bytes())
    except (OSError, ValueError):
        record = {}
    code = record.get("exit_code") if isinstance(record, dict) else None
    return DriverEvent("died", folder.name, time.time(),
                       exit_code=code if isinstance(code, int) else None,
                       oom_killed=bool(isinstance(record, dict) and record.get("oom_killed")))


class DeathWatch:
    """A Subscription: delivers deaths to `sink` (from its own thread) until closed."""

    def __init__(self, containers_dir: Path, sink: Sink) -> None:
        self.containers_dir, self.sink = containers_dir, sink
        self._inotify: Inotify | None = None
        self._root = -1  # the watch on containers_dir
        self._names: dict[int, str] = {}  # watch -> container name
        self._wake_r = self._wake_w = -1  # close() wakes the reading thread
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self) -> DeathWatch:
        self.containers_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._inotify = Inotify()
        self._root = self._inotify.add_watch(str(self.containers_dir), FOLDERS_MASK)
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC)
        self.sync(rescan=False)  # before the thread: this is its only other user
        self._thread = threading.Thread(target=self._run, name="death-watch", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed.is_set() or self._inotify is None:
            return
        self._closed.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._inotify.close()

    def emit(self, folder: Path) -> None:
        if not self._closed.is_set():
            self.sink(death_event(folder))

    def sync(self, rescan: bool) -> None:
        """Watch every container folder; an exit record already there is a death told now
        (made before its watch, or, `rescan`, lost when the kernel's queue overflowed)."""
        try:
            folders = [p for p in self.containers_dir.iterdir() if p.is_dir()]
        except FileNotFoundError:
            folders = []
        for folder in folders:
            self._watch_container(folder, rescan)

    def _watch_container(self, folder: Path, rescan: bool) -> None:
        assert self._inotify is not None
        try:
            wd = self._inotify.add_watch(str(folder), EXITS_MASK)
        except OSError:
            return  # removed in the meantime
        new = wd not in self._names
        self._names[wd] = folder.name
        if (new or rescan) and (folder / EXIT_FILE).exists():  # died before the watch
            self.emit(folder)

    def _run(self) -> None:
        assert self._inotify is not None
        while not self._closed.is_set():
            try:
                select.select([self._inotify.fd, self._wake_r], [], [])
                if not self._closed.is_set():
                    self._handle(list(self._inotify.read()))
            except OSError:
                if self._closed.is_set():
                    return
                raise

    def _handle(self, events: list[tuple[int, int, str]]) -> None:
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:
                self.sync(rescan=True)
            elif wd == self._root:
                if mask & IN_ISDIR:
                    self._watch_container(self.containers_dir / name, rescan=False)
            elif mask & IN_IGNORED:  # the folder is gone (removed): so is its watch
                self._names.pop(wd, None)
            elif name == EXIT_FILE and wd in self._names:
                self.emit(self.containers_dir / self._names[wd])
