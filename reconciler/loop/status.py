"""The control loop's status file, `<state_dir>/loop/status.json`, and its readers.

The loop rewrites it (atomically) after every convergence: each stack's source file, last
applied revision and last error; each container's state as the loop sees it (`backoff`
with the next attempt, the last exit codes, health, `gave-up`). Under `reconcile sync` a
`sync` section too: repository, ref, head commit, the last fetch error, and per stack the
commit in force, whether a rollback holds it, the revision being deployed and the last
failing commit (id, author, subject, result, reason). `reconcile status` prints it and
`reconcile ps` overlays it on what the driver observes, while the loop is alive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.loop.intents import user_stopped
from reconciler.support import atomic
from reconciler.support.pids import process_alive

FILE = "loop/status.json"


def write_status(state_dir: Path, doc: dict[str, Any]) -> None:
    path = state_dir / FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_json(path, doc, indent=2, default=str)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last status, with `running` telling whether its loop is still alive."""
    try:
        doc = json.loads((state_dir / FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    doc["running"] = process_alive(doc.get("pid"))
    return doc


def overlay_ps(state_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Add the live loop's view to `ps` rows: backoff state, next attempt, last exits,
    health (the loop runs the health checks, the driver does not know them)."""
    doc = read_status(state_dir)
    if doc is None or not doc["running"]:
        return
    known = doc.get("containers", {})
    stopped = user_stopped(state_dir)  # the markers, not the loop's last word: always current
    for row in rows:
        if row["name"] in stopped and row["state"] in ("exited", "dead", "created"):
            row["state"] = "user-stopped"
        seen = known.get(row["name"])
        if not seen:
            continue
        if seen.get("state") in ("backoff", "gave-up") and \
                row["state"] in ("exited", "dead", "running"):
            row["state"] = seen["state"]
        row["next_attempt"] = seen.get("next_attempt")
        row["last_exits"] = seen.get("last_exits", [])
        if seen.get("health") and seen["health"] != "none":
            row["health"] = seen["health"]
