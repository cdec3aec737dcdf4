"""Per stack, what `reconcile sync` has in force, what it is trying, and going back.

A stack whose file changed in a new commit is *pending*: it converges, then its
containers must be ready (running; healthy when they have a healthcheck; a job that
exited 0 under `restart: no|on-failure`) within its deadline (the largest `update.deadline`
of its containers, else `--health-deadline`). Ready: `ok` in the history with the image
digests it runs. Invalid, an action failed, or not ready in time: the commit is `failed` /
`rolled-back`, and the previous good revision is put back (its stack file, its digests)
and *held* until a commit changes that stack's file again: a bad commit is not retried.
A restored revision is gated too but never rolled back in turn (no ping-pong).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reconciler.loop.control import Loop
from reconciler.loop.gates import GateFile, StackDeploy, resume, settled
from reconciler.loop.gitrepo import Commit, GitError, GitMirror
from reconciler.loop.history import History, observed_pins, pin_stack
from reconciler.loop.stacks import StackEntry, content_digest, same_content, with_commit
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import SpecError
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.spec.stacks import load_stacks
from reconciler.support.atomic import read_json, write_json

HOLDS = "sync/holds.json"


def ready(spec: ContainerSpec, seen: ObservedContainer | None) -> bool:
    if seen is None:
        return False
    if seen.state == "running":
        return spec.healthcheck is None or seen.health == "healthy"
    return (seen.state == "exited" and seen.exit_code == 0
            and spec.restart.policy in ("no", "on-failure"))  # a job that completed


class Deploys:
    def __init__(self, loop: Loop, mirror: GitMirror, revisions: Path, source: Path,
                 inside: str, deadline: float) -> None:
        self.loop, self.mirror, self.revisions = loop, mirror, revisions
        self.source, self.inside = source.absolute(), inside  # the synced folder; --path
        self.default_deadline = deadline
        self.history = History(loop.state_dir)
        self.stacks: dict[str, StackDeploy] = {}
        self.holds: dict[str, dict[str, Any]] = {}
        for name in self.history.stacks:
            good = self.history.previous_good(name, "")
            self._get(name).commit = str(good["commit"]) if good else ""
        self.gates = GateFile(loop.state_dir)
        now = time.time()
        for name, saved in self.gates.load().items():  # a restarted sync resumes its gates
            resume(self._get(name), saved, settled(self.history.entries(name), saved), now)

    def _get(self, stack: str) -> StackDeploy:
        return self.stacks.setdefault(stack, StackDeploy(stack))

    # -- a new commit --

    def activate(self, commit: Commit) -> None:
        """The tree holds `commit`: reload every stack file and note what changed. Forced:
        a commit may change only what a stack file refers to (a bind source, an env
        file); a stack is deployed when what it loads to differs."""
        before = {p: e.stack for p, e in self.loop.stacks.entries.items()}
        changes = self.loop.stacks.reload(force=True)
        now = time.time()
        for change in changes:
            name = change.stack or Path(change.path).stem
            entry = self.loop.stacks.entries.get(change.path)
            if change.kind == "loaded" and entry is not None and \
                    same_content(before.get(change.path), entry.stack):
                continue  # the same stack: nothing to deploy or record
            self.loop.report([change])
            if change.kind == "loaded":
                self._get(name).open(commit, Path(change.path).name, now,
                                     self._deadline(name), restoring=False)
            elif change.kind == "invalid":
                d = self._get(name)
                d.file = Path(change.path).name
                self._failed(d, commit, "failed", "; ".join(change.problems))
        self._save_holds()
        self.gates.save(self.stacks)

    def _deadline(self, stack: str) -> float:
        own = [c.update_deadline for c in self._specs(stack) if c.update_deadline is not None]
        return max(own) if own else self.default_deadline

    def _specs(self, stack: str) -> list[ContainerSpec]:
        return [c for c in self.loop.stacks.desired().containers() if c.stack == stack]

    # -- after each convergence, and on the clock --

    def converged(self, failed: frozenset[str], observed: Observed) -> bool:
        """Settle pending stacks; True when a rollback was put in force (converge again)."""
        again = False
        for d in list(self.stacks.values()):
            if d.pending is None:
                continue
            if d.stack in failed:
                again |= self._give_up(d, "failed", "an action of its apply failed")
            elif self._ready(d.stack, observed):
                self._succeeded(d, observed)
        self.gates.save(self.stacks)
        return again

    def check_deadlines(self) -> set[str]:
        now, again = time.time(), False
        for d in list(self.stacks.values()):
            if d.pending is not None and now >= self._due(d):
                if self._ready(d.stack, self.loop.observed):
                    self._succeeded(d, self.loop.observed)
                else:
                    again |= self._give_up(d, "rolled-back", "its containers did not become "
                                           f"ready within {d.deadline - d.opened_at:g}s")
        self.gates.save(self.stacks)
        return {"rollback"} if again else set()

    def next_due(self) -> float:
        return min((self._due(d) for d in self.stacks.values() if d.pending),
                   default=float("inf"))

    def _due(self, d: StackDeploy) -> float:
        """The gate's deadline; for a gate resumed after a restart, not before the new
        process's health checks have had one probe each (health is not known until then:
        deciding earlier would roll back a revision that is in fact healthy)."""
        if not d.resumed_at:
            return d.deadline
        probes = [c.healthcheck.interval + c.healthcheck.timeout
                  for c in self._specs(d.stack) if c.healthcheck is not None]
        return max(d.deadline, d.resumed_at + max(probes, default=0.0))

    def _ready(self, stack: str, observed: Observed) -> bool:
        seen = {c.name: c for c in observed.containers}
        return all(ready(spec, seen.get(spec.name)) for spec in self._specs(stack))

    def _succeeded(self, d: StackDeploy, observed: Observed) -> None:
        assert d.pending is not None
        commit, seen = d.pending, {c.name: c for c in observed.containers}
        images = observed_pins(self._specs(d.stack), seen)
        self.history.record(d.stack, {**commit.to_json(), "applied_at": time.time(),
                                      "result": "ok", "file": d.file, "images": images,
                                      "action": "rollback" if d.restoring else "sync"})
        d.commit, d.pending = commit.id, None
        if not d.restoring:
            d.failing = None
        try:
            self.mirror.keep(commit.id)
        except GitError as err:  # the mirror may be gone (tests), the deploy stands
            self.loop.event("sync-keep-failed", d.stack, error=str(err), level="warning")
        self.loop.event("sync-deployed", d.stack, **commit.event_fields(), images=images,
                        restored=d.restoring)

    def _give_up(self, d: StackDeploy, result: str, why: str) -> bool:
        assert d.pending is not None
        bad, restoring, file = d.pending, d.restoring, d.file
        d.pending = None
        if restoring:  # the rollback target itself is bad: report, do not go round
            self._failed(d, bad, "failed", f"the restored revision failed too: {why}")
            return False
        target = self.history.find(d.stack, d.commit) if d.commit else None
        # The rollback's gate is saved before the failure is recorded: a sync killed in
        # between resumes the rollback (the history settles gates, gates.py).
        again = target is not None and \
            self.restore(d, target, f"commit {bad.id[:12]} {result}: {why}")
        self._failed(d, bad, result, why, file)
        if target is None:
            self.loop.event("sync-no-rollback", d.stack, commit=bad.id, level="error",
                            reason="no earlier revision of this stack was applied ok")
        return again

    def _failed(self, d: StackDeploy, commit: Commit, result: str, why: str,
                file: str = "") -> None:
        d.failing = {**commit.to_json(), "result": result, "reason": why}
        self.history.record(d.stack, {**commit.to_json(), "applied_at": time.time(),
                                      "result": result, "reason": why,
                                      "file": file or d.file})
        self.loop.event("sync-commit-failed", d.stack, **commit.event_fields(), result=result,
                        reason=why, kept=d.commit or None, level="error")

    # -- going back --

    def requested(self, stack: str, rev: str) -> set[str]:
        """`reconcile rollback STACK [REV]` (default: the previous good revision)."""
        d = self._get(stack)
        target = (self.history.find(stack, rev) if rev
                  else self.history.previous_good(stack, d.commit))
        if target is None:
            self.loop.event("sync-rollback-refused", stack, revision=rev or None, level="error",
                            reason="no revision of this stack was applied ok" +
                            (f" matching {rev!r}" if rev else " before the current one"))
            return set()
        d.pending = None
        restored = self.restore(d, target, "requested (reconcile rollback)")
        self.gates.save(self.stacks)
        return {"rollback"} if restored else set()

    def restore(self, d: StackDeploy, target: dict[str, Any], why: str) -> bool:
        """Put `target` (a history entry) in force for its stack, pinned and held."""
        commit, file = str(target["commit"]), str(target.get("file") or d.file)
        try:
            self.mirror.export(commit, self.revisions / commit)
            stacks = load_stacks([self._real(commit, file)]).stacks
        except (GitError, SpecError, OSError) as err:
            self.loop.event("sync-rollback-failed", d.stack, commit=commit, error=str(err),
                            level="error")
            return False
        pinned = with_commit(pin_stack(stacks[0], target.get("images") or {}), commit)
        entry = self._entry(d.stack, file)
        entry.stack, entry.problems, entry.deleted = pinned, [], False
        entry.revision = content_digest(self._real(commit, file))
        entry.held = content_digest(Path(entry.path))
        self.holds[d.stack] = {"commit": commit, "file": file, "held": entry.held,
                               "images": target.get("images") or {}}
        self._save_holds()
        d.open(Commit(commit, str(target.get("author", "")), str(target.get("subject", "")),
                      float(target.get("time", 0))),
               file, time.time(), self._deadline(d.stack), restoring=True)
        self.gates.save(self.stacks)
        self.loop.event("sync-rolled-back", d.stack, to=commit, images=self.holds[d.stack]
                        ["images"], reason=why, level="warning")
        return True

    def _real(self, commit: str, file: str) -> Path:
        """The stack file `file` as exported for `commit`."""
        return self.revisions / commit / self.inside / file

    def _entry(self, stack: str, file: str) -> StackEntry:
        for entry in self.loop.stacks.entries.values():
            if entry.name == stack:
                return entry
        key = str(self.source / file)
        return self.loop.stacks.entries.setdefault(key, StackEntry(key))

    # -- holds survive a restart of the loop --

    def restore_holds(self) -> None:
        doc = read_json(self.loop.state_dir / HOLDS)
        for stack, hold in (doc if isinstance(doc, dict) else {}).items():
            try:
                stacks = load_stacks([self._real(hold["commit"], hold["file"])]).stacks
            except (SpecError, OSError, KeyError, TypeError):
                continue
            entry = self._entry(stack, hold["file"])
            entry.stack = with_commit(pin_stack(stacks[0], hold.get("images") or {}),
                                      str(hold["commit"]))
            entry.held = hold["held"]
            entry.revision = content_digest(self._real(hold["commit"], hold["file"]))
            self.holds[stack] = hold

    def _save_holds(self) -> None:
        held = {e.name for e in self.loop.stacks.entries.values() if e.held}
        self.holds = {k: v for k, v in self.holds.items() if k in held}
        write_json(self.loop.state_dir / HOLDS, self.holds, indent=2)

    def revisions_in_use(self) -> set[str]:
        used = {d.commit for d in self.stacks.values()} | \
               {d.pending.id for d in self.stacks.values() if d.pending}
        used |= {h["commit"] for h in self.holds.values()}
        root = self.revisions.absolute()
        for entry in self.loop.stacks.entries.values():  # held stacks name their revision
            if entry.stack is not None and Path(entry.stack.source).is_relative_to(root):
                used.add(Path(entry.stack.source).relative_to(root).parts[0])
        return used

    def status(self) -> dict[str, Any]:
        return {name: {**d.to_json(), "held": name in self.holds}
                for name, d in sorted(self.stacks.items())}
