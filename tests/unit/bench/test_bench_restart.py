"""bench/bench_restart.py: each kill's restart cut into the loop's phases."""

from __future__ import annotations

import pytest

from bench.bench_restart import kill_phases


def test_a_kill_is_cut_at_the_loop_marks_of_its_own_death() -> None:
    died = [  # an earlier death of the same container, then this kill's
        {"name": "rb-c0", "finished_at": 90.0, "detected_ms": 1.0, "woke_ms": 2.0,
         "decided_ms": 3.0},
        {"name": "rb-c0", "finished_at": 100.002, "detected_ms": 2.0, "woke_ms": 5.0,
         "decided_ms": 12.0},
    ]
    [phases] = kill_phases([("rb-c0", 100.0, 100.2), ("rb-c1", 100.0, 100.3)], died)
    assert phases["name"] == "rb-c0" and phases["restart"] == pytest.approx(0.2)
    assert [phases[k] for k in ("kill_to_exit", "exit_to_seen", "seen_to_woke",
                                "woke_to_decided", "decided_to_started")] == pytest.approx(
        [0.002, 0.002, 0.003, 0.007, 0.2 - 0.014])
