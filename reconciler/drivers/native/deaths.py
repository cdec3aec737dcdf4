"""The native driver's event stream: container deaths, seen through inotify.

Each container's monitor writes `exit.json` in the container's state folder the moment
the container exits (atomically, by rename). One watchdog observer watches the folder of
containers for new container folders and each container folder for that file, and turns
its appearance into a `DriverEvent`. Only the driver knows these files; the control loop
sees the events.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from reconciler.drivers.base import DriverEvent
from reconciler.support.fsevents import event_paths

EXIT_FILE = "exit.json"
Sink = Callable[[DriverEvent], None]


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


class _ExitHandler(FileSystemEventHandler):
    def __init__(self, watch: DeathWatch) -> None:
        self.watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "moved", "modified", "closed"):
            return
        for path in event_paths(event):
            if os.path.basename(path) == EXIT_FILE:
                self.watch.emit(Path(os.path.dirname(path)))
                return


class _FolderHandler(FileSystemEventHandler):
    """New container folders get an exit watch of their own; removed ones lose it."""

    def __init__(self, watch: DeathWatch) -> None:
        self.watch = watch

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watch.watch_container(Path(os.fsdecode(event.src_path)))

    def on_deleted(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watch.sync()


class DeathWatch:
    """A Subscription: delivers deaths to `sink` until closed."""

    def __init__(self, containers_dir: Path, sink: Sink) -> None:
        self.containers_dir, self.sink = containers_dir, sink
        self.observer: BaseObserver = Observer()
        self._exits = _ExitHandler(self)
        # name -> (inode of its folder, watch): a replaced container has a new folder.
        self._watches: dict[str, tuple[int, ObservedWatch]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def start(self) -> DeathWatch:
        self.containers_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.observer.schedule(_FolderHandler(self), str(self.containers_dir), recursive=False)
        self.observer.start()
        self.sync()
        return self

    def close(self) -> None:
        self._closed.set()
        self.observer.stop()
        self.observer.join(timeout=5)

    def emit(self, folder: Path) -> None:
        if not self._closed.is_set():
            self.sink(death_event(folder))

    def watch_container(self, folder: Path) -> None:
        with self._lock:
            try:
                inode = folder.stat().st_ino
            except OSError:
                return  # removed in the meantime
            known = self._watches.get(folder.name)
            if known is not None and known[0] == inode:
                return
            if known is not None:
                self._unschedule(known[1])
            try:
                watch = self.observer.schedule(self._exits, str(folder), recursive=False)
            except OSError:
                return
            self._watches[folder.name] = (inode, watch)
        if (folder / EXIT_FILE).exists():  # died before the watch was in place
            self.emit(folder)

    def sync(self) -> None:
        """Watch every container folder; drop the watches of removed ones."""
        try:
            present = {p.name: p for p in self.containers_dir.iterdir() if p.is_dir()}
        except FileNotFoundError:
            present = {}
        for folder in present.values():
            self.watch_container(folder)
        with self._lock:
            for name in set(self._watches) - set(present):
                self._unschedule(self._watches.pop(name)[1])

    def _unschedule(self, watch: ObservedWatch) -> None:
        with contextlib.suppress(KeyError, OSError):  # the kernel dropped it with the folder
            self.observer.unschedule(watch)
