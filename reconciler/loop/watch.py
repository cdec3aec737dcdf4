"""What wakes the control loop: stack file changes and container deaths, via inotify.

Both arrive on one queue as `Wake`s. Stack files are watched through their folder, so
that editors' atomic renames (write a temp file, rename it over the original) are seen;
swap, backup and hidden files are ignored. Deaths are seen by watching each container's
state folder for the monitor's `exit.json`, written the moment the container exits.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from reconciler.engine.wake import Wake

STACK_SUFFIXES = (".yaml", ".yml")
EXIT_FILE = "exit.json"


def is_stack_file(path: str) -> bool:
    """*.yaml / *.yml, not hidden: vim's `.x.yaml.swp`, emacs' `.#x.yaml`, `x.yaml~`,
    vim's `4913` probe and editors' temp files never count."""
    name = os.path.basename(path)
    return name.endswith(STACK_SUFFIXES) and not name.startswith((".", "#"))


def _paths(event: FileSystemEvent) -> list[str]:
    paths = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.append(os.fsdecode(dest))
    return paths


class _StackHandler(FileSystemEventHandler):
    def __init__(self, wakes: queue.Queue[Wake], only: set[str] | None) -> None:
        self.wakes, self.only = wakes, only

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for path in _paths(event):
            if is_stack_file(path) and (self.only is None or path in self.only):
                self.wakes.put(Wake("stack", path, time.time()))


class _DeathHandler(FileSystemEventHandler):
    def __init__(self, wakes: queue.Queue[Wake]) -> None:
        self.wakes = wakes

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "moved", "modified", "closed"):
            return
        for path in _paths(event):
            if os.path.basename(path) == EXIT_FILE:
                self.wakes.put(Wake("death", os.path.basename(os.path.dirname(path)),
                                    time.time()))
                return


class _FolderHandler(FileSystemEventHandler):
    """New container folders get a death watch of their own."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watcher.watch_container(Path(os.fsdecode(event.src_path)))


class Watcher:
    """One watchdog observer for stack folders and container folders."""

    def __init__(self, wakes: queue.Queue[Wake], containers_dir: Path) -> None:
        self.wakes = wakes
        self.containers_dir = containers_dir
        self.observer: BaseObserver = Observer()
        self._deaths = _DeathHandler(wakes)
        # name -> (inode of its folder, watch): a replaced container has a new folder.
        self._container_watches: dict[str, tuple[int, ObservedWatch]] = {}
        self._lock = threading.Lock()

    def watch_stacks(self, sources: list[Path]) -> None:
        """Folders are watched whole; a named file through its folder, filtered to it."""
        files: dict[Path, set[str]] = {}
        for source in sources:
            if source.is_dir():
                self.observer.schedule(_StackHandler(self.wakes, None),
                                       str(source), recursive=False)
            else:
                files.setdefault(source.parent, set()).add(str(source))
        for folder, names in files.items():
            self.observer.schedule(_StackHandler(self.wakes, names),
                                   str(folder), recursive=False)

    def start(self) -> None:
        self.containers_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.observer.schedule(_FolderHandler(self), str(self.containers_dir), recursive=False)
        self.observer.start()
        self.sync_containers()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def watch_container(self, folder: Path) -> None:
        with self._lock:
            try:
                inode = folder.stat().st_ino
            except OSError:
                return  # removed in the meantime
            known = self._container_watches.get(folder.name)
            if known is not None and known[0] == inode:
                return
            if known is not None:
                self._unschedule(known[1])
            try:
                watch = self.observer.schedule(self._deaths, str(folder), recursive=False)
            except OSError:
                return
            self._container_watches[folder.name] = (inode, watch)
        if (folder / EXIT_FILE).exists():  # died before the watch was in place
            self.wakes.put(Wake("death", folder.name, time.time()))

    def sync_containers(self) -> None:
        """Watch every container folder; drop watches of removed ones."""
        try:
            present = {p.name: p for p in self.containers_dir.iterdir() if p.is_dir()}
        except FileNotFoundError:
            present = {}
        for folder in present.values():
            self.watch_container(folder)
        with self._lock:
            for name in set(self._container_watches) - set(present):
                self._unschedule(self._container_watches.pop(name)[1])

    def _unschedule(self, watch: ObservedWatch) -> None:
        with contextlib.suppress(KeyError, OSError):  # the kernel dropped it with the folder
            self.observer.unschedule(watch)
