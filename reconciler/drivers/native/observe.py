"""Map the state dir plus one `runc list` to neutral ObservedContainers.

State rules (docs/native.md):
- runc says created / running / paused: that state (running with a dead pid falls to
  the exit record);
- runc says stopped, or has no such container: "exited" with the monitor's exit record;
  when there is no exit record either, "exited" (code unknown) if runc still knows the
  container (for example after a reboot killed the monitor) and "dead" if it does not
  (a half-created container or lost runtime state: the planner replaces it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import labels as labelkeys
from reconciler.drivers.native.cgroups import process_alive
from reconciler.drivers.native.runtime import RuncState
from reconciler.drivers.native.state import ContainerPaths, read_json
from reconciler.observed import ObservedContainer, State

_LIVE = {"created": "created", "running": "running", "paused": "paused", "pausing": "paused"}


def container_names(containers_dir: Path) -> list[str]:
    try:
        return sorted(p.name for p in containers_dir.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def observe_container(
    paths: ContainerPaths, runc: RuncState | None, stacks: frozenset[str] | None
) -> ObservedContainer | None:
    """The container in `paths`, or None when it is not ours (or not of `stacks`).

    Reads the raw spec.json (not the decoded spec): observe must stay fast."""
    record = read_json(paths.record)
    if not isinstance(record, dict):
        return None
    labels: Mapping[str, str] = record.get("labels") or {}
    if not labelkeys.is_owned(labels):
        return None
    if stacks is not None and labels[labelkeys.STACK] not in stacks:
        return None
    exit_record = read_json(paths.exit)
    exit_info = exit_record if isinstance(exit_record, dict) else {}
    started = read_json(paths.started)
    started_info = started if isinstance(started, dict) else {}
    state, pid = _state(runc, exit_info)
    exited = state in ("exited", "dead")
    return ObservedContainer(
        name=paths.root.name,
        stack=labels[labelkeys.STACK],
        key=labels[labelkeys.CONTAINER],
        labels=dict(labels),
        config_hash=labels[labelkeys.CONFIG_HASH],
        image_digest=str(record.get("image_digest", "")),
        state=state,
        exit_code=exit_info.get("exit_code") if exited else None,
        oom_killed=bool(exit_info.get("oom_killed")) if exited else False,
        restart_count=max(0, int(started_info.get("count", 0)) - 1),
        pid=pid,
        created_at=_float(record.get("created_at")),
        started_at=_float(started_info.get("started_at")),
        finished_at=_float(exit_info.get("finished_at")) if exited else None,
        recorded_spec=record.get("hashed_fields"),
    )


def _state(runc: RuncState | None, exit_info: Mapping[str, Any]) -> tuple[State, int | None]:
    live = runc is not None and runc.status in _LIVE
    if runc is not None and live and (runc.status == "created" or process_alive(runc.pid)):
        state: State = _LIVE[runc.status]  # type: ignore[assignment]
        return state, runc.pid
    if exit_info:
        return "exited", None
    if runc is not None:
        return "exited", None
    return "dead", None
