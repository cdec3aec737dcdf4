"""`paused_gc()`: no cyclic garbage collection while a large tree of short-lived objects
is built.

Loading a 500-service Compose file allocates a few hundred thousand nodes, dicts and
tuples that all live until the load ends; the collector, triggered every 700 allocations,
walks them again and again and finds nearly nothing (bench/REPORT.md, "Compose file":
~35% of the load). Reference counting still frees everything that is not a cycle; the
collector resumes where the pause ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Nestable: only the outermost pause re-enables the collector (if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
