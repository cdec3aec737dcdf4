"""The state-dir lock and the event journal."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from reconciler.model.errors import LockBusy
from reconciler.support.events import append_event, read_events
from reconciler.support.lock import state_lock


def _hold(state_dir: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    with state_lock(Path(state_dir)):
        ready.set()
        time.sleep(seconds)


def test_second_writer_is_refused_after_timeout_naming_the_holder(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, 2.0))
    holder.start()
    try:
        assert ready.wait(5)
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"), state_lock(tmp_path, timeout=0.2):
            pass
    finally:
        holder.join()


def test_second_writer_waits_until_the_first_is_done(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, 0.5))
    holder.start()
    assert ready.wait(5)
    waited: list[str] = []
    started = time.monotonic()
    with state_lock(tmp_path, on_wait=waited.append):
        elapsed = time.monotonic() - started
    holder.join()
    assert waited == [str(holder.pid)]
    assert elapsed >= 0.3


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, 30.0))
    holder.start()
    assert ready.wait(5)
    holder.kill()
    holder.join()
    with state_lock(tmp_path, timeout=1.0):
        pass


def test_events_round_trip_and_since_filter(tmp_path: Path) -> None:
    append_event(tmp_path, "created", "shop-web")
    cut = time.time()
    append_event(tmp_path, "died", "shop-web", exit_code=3)
    events = list(read_events(tmp_path))
    assert [e["type"] for e in events] == ["created", "died"]
    assert events[1]["exit_code"] == 3
    assert [e["type"] for e in read_events(tmp_path, since=cut)] == ["died"]


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    append_event(tmp_path, "created", "a")
    with (tmp_path / "events.jsonl").open("a") as fh:
        fh.write('{"type": "trunc')
    assert [e["name"] for e in read_events(tmp_path)] == ["a"]


def test_no_journal_yields_nothing(tmp_path: Path) -> None:
    assert list(read_events(tmp_path)) == []
