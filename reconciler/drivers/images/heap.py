"""Keep glibc from mapping and unmapping every large buffer while layers stream.

A layer passes through the pipeline in 1 MiB pieces: each socket read, inflated chunk and
tar piece is a fresh buffer of about that size. glibc's malloc serves such sizes with
mmap and returns them with munmap, so every piece costs 256 page faults on first touch:
a pull of 100 MiB measured ~190,000 minor faults and 0.9 s of system time, more than half
of the whole pull (bench/REPORT.md, "Pull and unpack"). Inside `large_buffers()` the
mmap threshold and the trim threshold are raised, so those buffers come from the heap
and are reused; on the way out they are put back and the freed heap is trimmed, so a
long-running `reconcile run` does not keep the pull's memory.

glibc only (ctypes finds `mallopt`); elsewhere this does nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PULL_MMAP = 32 << 20  # larger than any buffer of the pipeline (a few MiB at most)
_PULL_TRIM = 64 << 20
_DEFAULT = 128 << 10  # glibc's own starting values of both

_Funcs = tuple[Callable[[int, int], int], Callable[[int], int]]
_lock = threading.Lock()
_users = 0
_funcs: list[_Funcs | None] = []  # looked up on first use: ctypes costs an import


def _libc() -> _Funcs | None:
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        return libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return None


@contextlib.contextmanager
def large_buffers() -> Iterator[None]:
    """Layer streaming within: big buffers reused from the heap (nests, thread-safe)."""
    global _users
    with _lock:
        if not _funcs:
            _funcs.append(_libc())
        funcs = _funcs[0]
    if funcs is None:
        yield
        return
    mallopt, malloc_trim = funcs
    with _lock:
        _users += 1
        if _users == 1:
            mallopt(_M_MMAP_THRESHOLD, _PULL_MMAP)
            mallopt(_M_TRIM_THRESHOLD, _PULL_TRIM)
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                mallopt(_M_MMAP_THRESHOLD, _DEFAULT)
                mallopt(_M_TRIM_THRESHOLD, _DEFAULT)
                malloc_trim(0)
