"""The host's event journal: `<state_dir>/events.jsonl`, one JSON object per line.

Writers append with O_APPEND and one write() per event, so concurrent writers (the CLI,
the loop, per-container monitors) never interleave within a line. Readers tail it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE = "events.jsonl"
ROTATE_AT = 8 * 1024 * 1024  # bytes; one older generation is kept as events.jsonl.1


def append_event(state_dir: Path, kind: str, name: str, **attrs: Any) -> None:
    path = state_dir / FILE
    record = {"time": round(time.time(), 6), "type": kind, "name": name, **attrs}
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    try:
        if path.stat().st_size > ROTATE_AT:
            os.replace(path, path.with_name(FILE + ".1"))
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None  # a torn last line from a writer that died mid-write
    return value if isinstance(value, dict) else None


def read_events(
    state_dir: Path, since: float | None = None, follow: bool = False, poll: float = 0.1
) -> Iterator[dict[str, Any]]:
    path = state_dir / FILE
    while not path.exists():
        if not follow:
            return
        time.sleep(poll)
    with path.open() as fh:
        while True:
            line = fh.readline()
            if not line:
                if not follow:
                    return
                time.sleep(poll)
                continue
            event = _parse(line)
            if event is not None and (since is None or event.get("time", 0) >= since):
                yield event
