"""What wakes the control loop from the file system: stack file changes and user intents
(`reconcile stop|start` markers), via inotify. Container deaths come from the driver's own
event stream (Driver.watch).

Wakes arrive on one queue. Stack files are watched through their folder, so that editors'
atomic renames (write a temp file, rename it over the original) are seen; swap, backup
and hidden files are ignored.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from reconciler.engine.wake import Wake
from reconciler.support.fsevents import event_paths

STACK_SUFFIXES = (".yaml", ".yml")


def is_stack_file(path: str) -> bool:
    """*.yaml / *.yml, not hidden: vim's `.x.yaml.swp`, emacs' `.#x.yaml`, `x.yaml~`,
    vim's `4913` probe and editors' temp files never count."""
    name = os.path.basename(path)
    return name.endswith(STACK_SUFFIXES) and not name.startswith((".", "#"))


class _StackHandler(FileSystemEventHandler):
    def __init__(self, wakes: queue.Queue[Wake], only: set[str] | None) -> None:
        self.wakes, self.only = wakes, only

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for path in event_paths(event):
            if is_stack_file(path) and (self.only is None or path in self.only):
                self.wakes.put(Wake("stack", path, time.time()))


class _IntentHandler(FileSystemEventHandler):
    def __init__(self, wakes: queue.Queue[Wake]) -> None:
        self.wakes = wakes

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "deleted", "moved"):
            self.wakes.put(Wake("intent", os.path.basename(os.fsdecode(event.src_path)),
                                time.time()))


class Watcher:
    """One watchdog observer for stack folders and the user-intent folder."""

    def __init__(self, wakes: queue.Queue[Wake]) -> None:
        self.wakes = wakes
        self.observer: BaseObserver = Observer()

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

    def watch_intents(self, folder: Path) -> None:
        """`reconcile stop|start` while the loop runs: their markers wake it at once."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.observer.schedule(_IntentHandler(self.wakes), str(folder), recursive=False)

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
