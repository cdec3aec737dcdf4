"""Whether the state-dir lock (support/lock.py) is held, asked without taking it. On its
own, with only os and fcntl: the settled no-op (cli/settled.py) asks before the rest of
the CLI is imported, and support/lock.py brings the model's errors (~20 ms)."""

from __future__ import annotations

import fcntl
import os

LOCK_FILE = "lock"


def lock_held(state_dir: str | os.PathLike[str]) -> bool:
    """Whether some process (this one too: flock is per open file) holds the lock now."""
    try:
        fd = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
