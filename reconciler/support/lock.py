"""The state-dir locks (flock, released by the kernel if we die): `state_lock`, one writer
at a time; `decision_lock`, one decision at a time beside a running loop."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.model.errors import LockBusy
from reconciler.support.lockprobe import LOCK_FILE

DECISION_FILE = "decide.lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def state_lock(
    state_dir: Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    role: str = "",
) -> Iterator[None]:
    """Hold `<state_dir>/lock`. Waits for another holder (forever when timeout is None);
    raises LockBusy naming the holder's pid after `timeout` seconds. A holder with role
    "run" (the control loop, which holds the lock for its lifetime) is refused at once:
    waiting for it would mean waiting forever."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _acquire(fd, path, timeout, on_wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}".strip().encode() + b"\n", 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _acquire(
    fd: int, path: Path, timeout: float | None, on_wait: Callable[[str], None] | None
) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(path)
            if holder.endswith(" run"):
                raise LockBusy(
                    f"a `reconcile run` loop (pid {holder.split()[0]}) manages {path.parent}; "
                    "edit the stack files it watches, or stop it first"
                ) from None
            if deadline is not None and time.monotonic() >= deadline:
                raise LockBusy(
                    f"another reconcile process (pid {holder}) holds {path}; "
                    "it changes this host right now"
                ) from None
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(0.05)


@contextmanager
def decision_lock(state_dir: Path) -> Iterator[None]:
    """Held by the control loop through each convergence (it reads the user-stopped markers
    first and acts last), and by `stop`/`start`/`restart` (the CLI's or the API's) through
    marking and acting. Without it a convergence that read the markers before a `stop`
    would see the stopped container exited and start it again, or race a `restart`'s
    start with its own. A flock, so it holds between processes and between threads."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state_dir / DECISION_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
