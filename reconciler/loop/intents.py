"""User intents the control loop must honour: containers the user stopped.

`reconcile stop NAME` leaves a marker `<state_dir>/stopped/<name>` before it stops the
container, so a loop that sees the death never undoes it; `reconcile start NAME` removes
the marker. Markers are plain files so any process can write them without the lock.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

DIR = "stopped"


def mark_stopped(state_dir: Path, name: str) -> None:
    folder = state_dir / DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / name).write_text("stopped by the user\n")


def clear_stopped(state_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / DIR / name).unlink()


def user_stopped(state_dir: Path) -> frozenset[str]:
    try:
        return frozenset(p.name for p in (state_dir / DIR).iterdir())
    except FileNotFoundError:
        return frozenset()
