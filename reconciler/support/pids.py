"""Whether a process is alive: used by the driver, the image store and the loop's status."""

from __future__ import annotations


def process_alive(pid: object) -> bool:
    """True when `pid` names a process that exists and is not a zombie (a dead child not
    yet reaped still has a pid; it must not count as running)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
