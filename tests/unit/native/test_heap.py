"""`large_buffers()` makes 1 MiB buffers come from the heap (no page faults each time), and
puts glibc's settings back when the last user leaves.

Each case runs in a fresh interpreter: whether glibc maps a buffer or reuses free heap
depends on the heap's history, and a test process that has run hundreds of other tests has
free chunks of every size (the full suite once served every 1 MiB buffer from them)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PRELUDE = """
import json, resource, threading
from reconciler.drivers.images import heap

def faults(count):
    # Each buffer a little larger than the one before (as the pieces of a stream are):
    # glibc's sliding mmap threshold never catches up. Zero-filled: every page touched.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(count):
        buffer = bytearray((1 << 20) + i * 8192)
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
"""


def _run(body: str) -> dict[str, int]:
    code = PRELUDE + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_one_mib_buffers_stop_faulting_inside() -> None:
    seen = _run("""
        with heap.large_buffers():
            faults(50)  # the heap grows to hold them, once
            inside = faults(50)
        print(json.dumps({"inside": inside, "after": faults(50)}))
    """)
    assert seen["after"] > 50 * 200  # glibc's starting threshold: each a fresh mmap (256 pages)
    assert seen["inside"] < seen["after"] / 10


def test_nested_and_threaded_users_keep_it_until_the_last_leaves() -> None:
    seen = _run("""
        entered, leave = threading.Event(), threading.Event()

        def other():
            with heap.large_buffers():
                entered.set()
                leave.wait(10)

        thread = threading.Thread(target=other)
        thread.start()
        assert entered.wait(10)
        with heap.large_buffers(), heap.large_buffers():
            pass
        faults(2)
        still_on = faults(50)  # the thread is still inside
        leave.set()
        thread.join()
        print(json.dumps({"still_on": still_on, "users": heap._users, "after": faults(50)}))
    """)
    assert seen["still_on"] < 50 * 100
    assert seen["users"] == 0
    assert seen["after"] > 50 * 200
