"""Pull progress: a per-layer bar on a terminal (rich), structured log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.support.logsetup import logger

ProgressFn = Callable[[str, int, int | None], None]


class LogReporter:
    """One log line per finished layer: bytes, seconds, rate. Quiet between."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        with self._lock:
            start = self._started.setdefault(what, now)
        if total is not None and done >= total:
            seconds = max(now - start, 1e-6)
            logger().info("layer downloaded", image=self.ref, layer=what.removeprefix("layer "),
                          bytes=done, seconds=round(seconds, 3),
                          mib_per_s=round(done / seconds / 2**20, 1))  # fmt: skip


class RichReporter:
    """A rich progress bar per layer (bytes, rate), on stderr."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, what: str, done: int, total: int | None) -> None:
        with self._lock:
            task = self._tasks.get(what)
            if task is None:
                task = self._progress.add_task(what, total=total)
                self._tasks[what] = task
        self._progress.update(task, completed=done, total=total)


@contextmanager
def reporter(ref: str, given: ProgressFn | None) -> Iterator[ProgressFn]:
    """The caller's callback if it gave one; else rich on a terminal, logs otherwise."""
    if given is not None:
        yield given
        return
    if not sys.stderr.isatty():
        yield LogReporter(ref)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=False) as bars:
        yield RichReporter(bars)


@contextmanager
def push_reporter(ref: str, given: ProgressFn | None) -> Iterator[ProgressFn]:
    """As `reporter` on a terminal (a bar per blob); quiet on a pipe (the push logs one
    line for the image)."""
    if given is None and not sys.stderr.isatty():
        yield lambda _what, _done, _total: None
        return
    with reporter(ref, given) as report:
        yield report
