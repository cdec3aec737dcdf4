"""The few host facts validation needs (online CPUs), read from /sys without a driver:
`spec` may not import a driver, and a limit the host cannot honour is invalid input that
must be refused before anything runs (runc would fail later, half-way through an apply)."""

from __future__ import annotations

import os
from pathlib import Path

ONLINE_CPUS = Path("/sys/devices/system/cpu/online")
MAX_CPU = 8192  # a cpuset naming more is a typo (or an attempt to make us allocate)


def parse_cpuset(text: str) -> frozenset[int]:
    """`0-3,5` -> {0, 1, 2, 3, 5}; ValueError for anything else (Docker's cpuset syntax)."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, sep, high = part.strip().partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f"expected CPU numbers like 0-3,5, got {text!r}")
        first, last = int(low), int(high) if sep else int(low)
        if first > last or last > MAX_CPU:
            raise ValueError(f"expected CPU numbers like 0-3,5, got {text!r}")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def online_cpus() -> frozenset[int]:
    """The CPUs the kernel has online; the ones this process may use when /sys is absent."""
    try:
        return parse_cpuset(ONLINE_CPUS.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return frozenset(os.sched_getaffinity(0))
