"""Reading the JSON-lines logs the monitor writes (container.log, .1, .2 ... oldest last)."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler.drivers.base import LogLine

FOLLOW_POLL = 0.1


def log_files(live: Path) -> list[Path]:
    """Rotated files oldest first, then the live one."""
    rotated = []
    n = 1
    while True:
        candidate = live.with_name(f"{live.name}.{n}")
        if not candidate.exists():
            break
        rotated.append(candidate)
        n += 1
    return [*reversed(rotated), live]


def parse_line(raw: bytes) -> LogLine | None:
    try:
        entry = json.loads(raw)
        return LogLine(float(entry["t"]), str(entry["s"]), str(entry["l"]))
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line while the monitor writes: skipped


def read_lines(live: Path, since: float | None = None) -> Iterator[LogLine]:
    for path in log_files(live):
        try:
            with open(path, "rb") as f:
                for raw in f:
                    line = parse_line(raw)
                    if line and (since is None or line.time >= since):
                        yield line
        except FileNotFoundError:
            continue  # rotated away between listing and opening


def read_logs(
    live: Path,
    tail: int | None = None,
    since: float | None = None,
    follow: bool = False,
    still_running: Callable[[], bool] = lambda: False,
) -> Iterator[LogLine]:
    """Past lines (the last `tail` of them), then with `follow` new ones as they come,
    until the container stops and the live file is drained."""
    lines: Iterator[LogLine] = read_lines(live, since)
    if tail is not None:
        lines = iter(deque(lines, maxlen=tail) if tail > 0 else ())
    # Remember where the live file ends now, before yielding, so follow starts there.
    position, inode = _end_of(live)
    yield from lines
    if follow:
        yield from _follow(live, position, inode, still_running)


def _end_of(live: Path) -> tuple[int, int]:
    try:
        st = os.stat(live)
    except FileNotFoundError:
        return 0, 0
    return st.st_size, st.st_ino


def _follow(
    live: Path, position: int, inode: int, still_running: Callable[[], bool]
) -> Iterator[LogLine]:
    pending = b""
    while True:
        running = still_running()  # sampled before reading: the last read sees all output
        size, current = _end_of(live)
        if current != inode:  # rotated: the rest of the old file is now live.1
            yield from _read_from(live.with_name(live.name + ".1"), position, pending)
            pending, position, inode = b"", 0, current
        chunk = b""
        if size > position:
            with open(live, "rb") as f:
                f.seek(position)
                chunk = f.read(size - position)
            position = size
        data = pending + chunk
        *complete, pending = data.split(b"\n")
        for raw in complete:
            line = parse_line(raw)
            if line:
                yield line
        if not running:
            return
        time.sleep(FOLLOW_POLL)


def _read_from(path: Path, position: int, pending: bytes) -> Iterator[LogLine]:
    try:
        with open(path, "rb") as f:
            f.seek(position)
            data = pending + f.read()
    except FileNotFoundError:
        return
    for raw in data.split(b"\n"):
        line = parse_line(raw)
        if line:
            yield line
