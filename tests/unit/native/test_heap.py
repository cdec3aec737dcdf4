"""`large_buffers()` makes 1 MiB buffers come from the heap (no page faults each time), and
puts glibc's settings back when the last user leaves."""

from __future__ import annotations

import resource
import threading

from reconciler.drivers.images import heap


def _faults_allocating(count: int) -> int:
    """Minor faults of `count` buffers of 1 MiB and more, each a little larger than the one
    before (as the pieces of a stream are): glibc's sliding mmap threshold never catches up."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(count):
        buffer = bytearray((1 << 20) + i * 8192)  # zero-filled: every page touched
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_one_mib_buffers_stop_faulting_inside() -> None:
    with heap.large_buffers():
        _faults_allocating(50)  # the heap grows to hold them, once
        inside = _faults_allocating(50)
    after = _faults_allocating(50)
    assert after > 50 * 200  # glibc's starting threshold: each buffer a fresh mmap (256 pages)
    assert inside < after / 10


def test_nested_and_threaded_users_keep_it_until_the_last_leaves() -> None:
    entered = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with heap.large_buffers():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(10)
        with heap.large_buffers(), heap.large_buffers():
            pass
        _faults_allocating(2)
        assert _faults_allocating(50) < 50 * 100  # still on: the thread is inside
    finally:
        leave.set()
        thread.join()
    assert heap._users == 0
    assert _faults_allocating(50) > 50 * 200
