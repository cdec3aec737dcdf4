"""observe decides each container from one listing of its folder and the records in it,
without runc: running, created, paused, exited, dead (a removal cut short), and an exit
recorded while it looked."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.container.observe import read_facts, to_observed
from reconciler.drivers.native.container.state import ContainerPaths, ContainerRecord
from reconciler.model.hashing import hashed_fields
from reconciler.model.labels import ownership_labels
from tests.unit.native.test_native_runtime_side import make_spec


@pytest.fixture
def sleeper() -> Iterator[int]:
    """A live process whose parent is this test, as the container init is the monitor's."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def _recorded(tmp_path: Path) -> ContainerPaths:
    spec = make_spec()
    paths = ContainerPaths(tmp_path / "s-web")
    paths.root.mkdir()
    record = ContainerRecord(spec, hashed_fields(spec), ownership_labels(spec, "sha256:d"),
                             "sha256:d", 1.0)  # fmt: skip
    paths.record.write_text(json.dumps(record.to_json()))
    return paths


def _live(paths: ContainerPaths, pid: int, started_pid: int | None) -> None:
    paths.monitor_pid.write_text(json.dumps(os.getpid()))
    paths.container_pid.write_text(f"{pid}\n")
    if started_pid is not None:
        paths.started.write_text(json.dumps({"started_at": 5.0, "count": 2, "pid": started_pid}))


def _state(paths: ContainerPaths, frozen: bool = False) -> str | None:
    facts = read_facts(paths, None, lambda _name: frozen)
    assert facts is not None
    return to_observed("s-web", facts, None, False).state if facts.state else None


def test_live_child_of_the_monitor_is_running_created_or_paused(tmp_path: Path,
                                                                 sleeper: int) -> None:
    paths = _recorded(tmp_path)
    _live(paths, sleeper, started_pid=None)
    assert _state(paths) == "created"  # never started
    _live(paths, sleeper, started_pid=sleeper)
    assert _state(paths) == "running"
    assert _state(paths, frozen=True) == "paused"
    facts = read_facts(paths, None, lambda _name: False)
    assert facts is not None
    seen = to_observed("s-web", facts, None, False)
    assert (seen.pid, seen.restart_count, seen.started_at) == (sleeper, 1, 5.0)


def test_a_process_that_is_not_the_monitors_child_is_not_the_container(tmp_path: Path,
                                                                        sleeper: int) -> None:
    paths = _recorded(tmp_path)
    _live(paths, sleeper, started_pid=sleeper)
    paths.monitor_pid.write_text(json.dumps(1))  # another parent: a reused pid
    assert _state(paths) is None  # undecided: runc is asked (one `runc list`)


def test_exit_and_removal_marker(tmp_path: Path) -> None:
    paths = _recorded(tmp_path)
    paths.exit.write_text(json.dumps({"exit_code": 137, "finished_at": 9.0}))
    assert _state(paths) == "exited"
    paths.removing.touch()
    assert _state(paths) == "dead"  # a removal cut short is finished, never left exited


def test_an_exit_recorded_while_observing_is_waited_for(tmp_path: Path) -> None:
    paths = _recorded(tmp_path)
    monitor = subprocess.Popen(["sh", "-c", f"sleep 0.2; echo '{{\"exit_code\": 4}}' > "
                                             f"{paths.exit}; sleep 1"])
    try:
        paths.monitor_pid.write_text(json.dumps(monitor.pid))  # alive, no container.pid
        began = time.monotonic()
        facts = read_facts(paths, None, lambda _name: False)
        assert facts is not None and facts.state == "exited"
        assert to_observed("s-web", facts, None, False).exit_code == 4
        assert time.monotonic() - began < 0.5 + 0.3
    finally:
        monitor.kill()
        monitor.wait()


def test_a_folder_without_a_record_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    assert read_facts(ContainerPaths(tmp_path / "half"), None, lambda _name: False) is None


def test_prepared_without_a_monitor_is_created_and_a_monitor_outranks_the_marker(
        tmp_path: Path, sleeper: int) -> None:
    """create() runs no runc process: its `prepared` marker alone says created; once the
    monitor is there (start() killed before it removed the marker) the files decide."""
    paths = _recorded(tmp_path)
    assert _state(paths) is None  # nothing but the record: undecided, runc is asked
    paths.prepared.touch()
    assert _state(paths) == "created"
    _live(paths, sleeper, started_pid=sleeper)
    assert _state(paths) == "running"
