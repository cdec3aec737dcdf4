"""Per stack, what `reconcile sync` has in force and the health gate it is waiting on,
kept in `<state_dir>/sync/gates.json` so that a restarted `sync` resumes a pending gate.

A gate is a revision applied but not yet ready, with its deadline (wall-clock time, so it
means the same to the next process), whether it is a rollback target, and when it was
opened. The file is replaced atomically (support/atomic.py) whenever a gate opens or
closes. A gate whose revision already has a history entry made after it opened was
settled before the process died (the history is written first), so it is not resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.loop.gitrepo import Commit
from reconciler.model.records import record
from reconciler.support.atomic import read_json, write_json

GATES = "sync/gates.json"


@record
class StackDeploy:
    stack: str
    file: str = ""  # the stack file's name in the synced folder
    commit: str = ""  # in force: the last commit of this stack applied ok
    pending: Commit | None = None  # applied, not yet ready
    deadline: float = 0.0
    restoring: bool = False  # `pending` is a rollback target: never rolled back in turn
    opened_at: float = 0.0  # when `pending` was applied
    resumed_at: float = 0.0  # set when the gate was read back by a restarted sync
    failing: dict[str, Any] | None = None  # the last commit that failed here

    def open(self, commit: Commit, file: str, now: float, deadline: float,
             restoring: bool) -> None:
        self.pending, self.file, self.restoring = commit, file, restoring
        self.opened_at, self.deadline, self.resumed_at = now, now + deadline, 0.0

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "file": self.file, "failing": self.failing,
                "pending": ({**self.pending.to_json(), "deadline": self.deadline,
                             "restoring": self.restoring, "opened_at": self.opened_at}
                            if self.pending else None)}


class GateFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / GATES
        self._written: dict[str, Any] | None = None

    def save(self, deploys: Mapping[str, StackDeploy]) -> None:
        """Write the gates and failures, if they changed since the last write."""
        doc = {name: {"file": d.file, "failing": d.failing, "pending": d.to_json()["pending"]}
               for name, d in sorted(deploys.items()) if d.pending or d.failing}
        if doc != self._written:
            write_json(self.path, doc, indent=2)
            self._written = doc

    def load(self) -> dict[str, dict[str, Any]]:
        doc = read_json(self.path)
        self._written = doc if isinstance(doc, dict) else {}
        return {str(k): v for k, v in self._written.items() if isinstance(v, dict)}


def resume(d: StackDeploy, saved: Mapping[str, Any], settled: bool, now: float) -> None:
    """Take back what a previous sync process left for `d`'s stack. `settled`: the history
    already has the outcome of the saved gate."""
    failing = saved.get("failing")
    d.failing = failing if isinstance(failing, dict) else None
    gate = saved.get("pending")
    if not isinstance(gate, dict) or settled:
        return
    try:
        commit = Commit(str(gate["commit"]), str(gate.get("author", "")),
                        str(gate.get("subject", "")), float(gate.get("time", 0)))
        d.deadline, d.opened_at = float(gate["deadline"]), float(gate["opened_at"])
    except (KeyError, TypeError, ValueError):
        return  # not a gate this version wrote: nothing to resume
    d.pending, d.restoring, d.resumed_at = commit, bool(gate.get("restoring")), now
    d.file = str(saved.get("file") or d.file)


def settled(history_rows: list[dict[str, Any]], saved: Mapping[str, Any]) -> bool:
    """Has the history an entry for the saved gate's commit made after the gate opened?"""
    gate = saved.get("pending")
    if not isinstance(gate, dict):
        return False
    try:
        opened = float(gate.get("opened_at", 0))
    except (TypeError, ValueError):
        return False
    return any(r.get("commit") == gate.get("commit")
               and isinstance(r.get("applied_at"), (int, float)) and r["applied_at"] >= opened
               for r in history_rows)
