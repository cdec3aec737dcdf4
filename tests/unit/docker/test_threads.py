"""drivers/docker/threads.py: calls side by side, results in order, errors raised."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.drivers.docker.threads import Background, map_threads


def test_map_keeps_the_order_and_runs_side_by_side() -> None:
    seen: set[int] = set()

    def slow(n: int) -> int:
        seen.add(threading.get_ident())
        time.sleep(0.05)
        return n * 2

    began = time.monotonic()
    assert map_threads(slow, list(range(8)), 4) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert len(seen) == 4
    assert time.monotonic() - began < 0.35  # 8 calls of 50 ms on 4 threads: two rounds


def test_map_runs_every_call_then_raises_the_first_error() -> None:
    ran: list[int] = []

    def call(n: int) -> int:
        ran.append(n)
        if n in (1, 3):
            raise ValueError(f"bad {n}")
        return n

    with pytest.raises(ValueError, match="bad 1"):
        map_threads(call, [0, 1, 2, 3, 4], 2)
    assert sorted(ran) == [0, 1, 2, 3, 4]


def test_map_of_nothing() -> None:
    assert map_threads(lambda n: n, [], 8) == []


def test_background_gives_its_value_or_its_error() -> None:
    assert Background(lambda: 42).result() == 42

    def fail() -> int:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        Background(fail).result()
