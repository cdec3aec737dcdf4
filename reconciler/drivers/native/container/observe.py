"""Map the state dir (and, only when needed, one `runc list`) to ObservedContainers.

The common case needs no runc call: the monitor is the container init's parent (it is a
child subreaper), so "the pid in container.pid is alive and its parent is the pid in
monitor.pid" proves the container is up; started.json tells created from running and the
freezer tells paused. The exit record decides exited. Only containers that neither proves
(monitor gone without an exit record: a reboot, a killed monitor, a half-made create) are
looked up in one `runc list` call for all of them:

- runc says created / running / paused with a live pid: that state;
- runc knows it otherwise (stopped): "exited", code unknown;
- runc does not know it: "dead" (half-created or lost runtime state; the planner replaces it).

A stopped container whose folder holds remove()'s `removing` marker is "dead" too: a
removal cut short (a killed `down` or replace) is finished and re-made, never left exited.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.drivers.native.container.state import (
    EXIT_FILE,
    MONITOR_PID_FILE,
    PID_FILE,
    PREPARED_FILE,
    RECORD_FILE,
    STARTED_FILE,
    ContainerPaths,
    RecordHead,
    read_json,
    read_record,
)
from reconciler.model import labels as labelkeys
from reconciler.model.observed import ObservedContainer, State
from reconciler.model.records import record
from reconciler.support.pids import process_alive

if TYPE_CHECKING:  # a type only: a plan of an empty state dir never starts runc
    from reconciler.drivers.native.container.runtime import RuncState

EXIT_RECORD_WAIT = 0.5
_LIVE: dict[str, State] = {
    "created": "created", "running": "running", "paused": "paused", "pausing": "paused",
}  # fmt: skip


def container_names(containers_dir: Path) -> list[str]:
    try:
        with os.scandir(containers_dir) as entries:  # the entry types come with the listing
            return sorted(e.name for e in entries if e.is_dir())
    except FileNotFoundError:
        return []


@record(frozen=True)
class Facts:
    """What the container's own files say; state None when they do not decide it."""

    record: RecordHead
    labels: Mapping[str, str]
    exit_info: Mapping[str, Any]
    started_info: Mapping[str, Any]
    state: State | None
    pid: int | None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def read_facts(
    paths: ContainerPaths, stacks: frozenset[str] | None, frozen: Callable[[str], bool]
) -> Facts | None:
    """None when the dir is not ours (no ownership labels) or not of `stacks`. Reads the
    record head, never the decoded spec: observe must stay fast."""
    try:  # one listing says which records exist: no open() of a missing one
        present = frozenset(os.listdir(paths.root))
    except OSError:
        return None
    record = read_record(paths) if RECORD_FILE in present else None
    if record is None:
        return None
    labels = record.labels
    if not labelkeys.is_owned(labels):
        return None
    if stacks is not None and labels[labelkeys.STACK] not in stacks:
        return None
    # An exit recorded after the listing is read below (_exit_imminent), never missed.
    exit_info = _dict(read_json(paths.exit)) if EXIT_FILE in present else {}
    started_info = _dict(read_json(paths.started)) if STARTED_FILE in present else {}
    state: State | None = None
    pid = None
    if not exit_info and PID_FILE in present:
        pid = live_child_of_monitor(paths)
    if not exit_info and pid is None:
        exit_info = _exit_imminent(paths)
    if exit_info:
        state = "dead" if paths.removing.exists() else "exited"
    elif pid is None and PREPARED_FILE in present and MONITOR_PID_FILE not in present:
        state = "created"  # made by create(), no runc process until start()
    elif pid is not None and started_info.get("pid") != pid:
        state = "created"
    elif pid is not None:
        state = "paused" if frozen(paths.root.name) else "running"
    return Facts(record, labels, exit_info, started_info, state, pid)


def _exit_imminent(paths: ContainerPaths) -> Mapping[str, Any]:
    """The container just died but its live monitor has not written the record yet (a
    few milliseconds): wait for it briefly rather than report an exit without a code."""
    monitor_pid = _int(read_json(paths.monitor_pid))
    deadline = time.monotonic() + EXIT_RECORD_WAIT
    while monitor_pid is not None and process_alive(monitor_pid):
        record = _dict(read_json(paths.exit))
        if record or time.monotonic() > deadline:
            return record
        time.sleep(0.01)
    return _dict(read_json(paths.exit))


def live_child_of_monitor(paths: ContainerPaths) -> int | None:
    monitor_pid = _int(read_json(paths.monitor_pid))
    try:
        pid = int(paths.container_pid.read_text().strip())
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    alive = fields[0] not in ("Z", "X")
    return pid if alive and monitor_pid is not None and int(fields[1]) == monitor_pid else None


def _runc_decides(runc: RuncState | None, known: bool) -> tuple[State, int | None]:
    live = runc is not None and runc.status in _LIVE
    if runc is not None and live and (runc.status == "created" or process_alive(runc.pid)):
        return _LIVE[runc.status], runc.pid
    return ("exited", None) if known else ("dead", None)


def to_observed(
    name: str, facts: Facts, runc: RuncState | None, runc_knows: bool
) -> ObservedContainer:
    if facts.state is not None:
        state, pid = facts.state, facts.pid
    else:
        state, pid = _runc_decides(runc, runc_knows)
    exited = state in ("exited", "dead")
    exit_info, labels = facts.exit_info, facts.labels
    return ObservedContainer(
        name=name,
        stack=labels[labelkeys.STACK],
        key=labels[labelkeys.CONTAINER],
        labels=dict(labels),
        config_hash=labels[labelkeys.CONFIG_HASH],
        image_digest=facts.record.image_digest,
        state=state,
        exit_code=_int(exit_info.get("exit_code")) if exited else None,
        oom_killed=bool(exit_info.get("oom_killed")) if exited else False,
        restart_count=max(0, (_int(facts.started_info.get("count")) or 0) - 1),
        pid=pid,
        created_at=facts.record.created_at,
        started_at=_float(facts.started_info.get("started_at")),
        finished_at=_float(exit_info.get("finished_at")) if exited else None,
        recorded_spec=facts.record.hashed_fields,
        healthcheck=facts.record.healthcheck(),
    )
