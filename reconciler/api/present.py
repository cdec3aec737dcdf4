"""The API's JSON rows of stacks and containers (pure: from the loop's status and the
observation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.drivers.base import ContainerStats
from reconciler.model import labels
from reconciler.model.hashing import mask_secrets, mask_text
from reconciler.model.observed import ObservedContainer


def stack_rows(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Source file, revision, last result (applied / pending / invalid / failed /
    deleted) and last error of each stack."""
    rows = []
    for entry in status.get("stacks", []):
        name = entry.get("stack") or ""
        errors = [str(p) for p in entry.get("problems", [])]
        if entry.get("last_error"):  # the loop names each failure's stack
            errors.append(str(entry["last_error"]))
        if entry.get("deleted"):
            result = "deleted"
        elif entry.get("problems"):
            result = "invalid"
        elif errors:
            result = "failed"
        else:
            result = "applied" if entry.get("applied_at") else "pending"
        rows.append({"name": name, "source": entry.get("file"), "revision":
                     entry.get("revision"), "applied_at": entry.get("applied_at"),
                     "loaded_at": entry.get("loaded_at"), "result": result,
                     "last_error": "; ".join(errors) or None})
    masked: list[dict[str, Any]] = mask_secrets(sorted(rows, key=lambda r: r["name"]))
    return masked


def container_row(seen: ObservedContainer, loop: Mapping[str, Any] | None,
                  stats: ContainerStats | None, user_stopped: bool) -> dict[str, Any]:
    loop = loop or {}
    spec = seen.recorded_spec or {}
    limits = spec.get("limits") or {}
    state: str = seen.state  # as `ps` overlays the loop's status (loop/status.py)
    if user_stopped and seen.state in ("exited", "dead", "created"):
        state = "user-stopped"
    elif loop.get("state") in ("backoff", "gave-up") and \
            seen.state in ("exited", "dead", "running"):
        state = loop["state"]
    health = loop.get("health") if loop.get("health") not in (None, "none") else seen.health
    return {
        "name": seen.name, "stack": seen.stack, "key": seen.key, "state": state,
        "observed_state": seen.state, "health": health,
        "restarts": seen.restart_count, "exit_code": seen.exit_code,
        "oom_killed": seen.oom_killed, "pid": seen.pid,
        "image": mask_text(labels.image_name(seen.labels, spec, seen.image_digest)),
        "image_digest": seen.image_digest,
        "started_at": seen.started_at, "finished_at": seen.finished_at,
        "backoff": {"next_attempt": loop.get("next_attempt"),
                    "last_exits": list(loop.get("last_exits") or [])},
        "policy": loop.get("policy"),
        "ports": list(spec.get("ports") or []), "addresses": list(seen.addresses),
        "limits": mask_secrets(dict(limits)),
        "usage": None if stats is None else {
            "cpu_percent": stats.cpu_percent, "memory_usage": stats.memory_usage,
            "memory_limit": stats.memory_limit, "pids": stats.pids},
        "drift": list(seen.drift),
        "source": seen.labels.get(labels.SOURCE) or None,
        "commit": seen.labels.get(labels.SOURCE_COMMIT) or None,
    }
