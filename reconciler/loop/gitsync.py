"""`reconcile sync`: a git ref is the desired state, converged by the control loop.

A fetching thread (loop/fetcher.py) exports each new commit into
`<state_dir>/sync/revisions/<commit>` (immutable) and wakes the loop; in the deciding
thread, GitSync makes `<state_dir>/sync/tree` equal to that revision (loop/tree.py: in
place, file by file, so that paths stay stable), reloads the stack files under `--path`
through the loop's StackSet, and converges. Per
stack (loop/deploys.py): an invalid file keeps the last good revision in force; a new
revision must converge and become healthy within its deadline, or the previous good
revision is put back (same files, same image digests) and held until the stack's file
changes again; every outcome lands in the history (loop/history.py), the status file,
the journal and the log. docs/sync.md describes it and the decisions behind it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from reconciler.engine.wake import Wake
from reconciler.loop.control import Loop
from reconciler.loop.deploys import Deploys
from reconciler.loop.fetcher import Fetched, Fetcher
from reconciler.loop.gitrepo import Commit, GitError, GitMirror
from reconciler.loop.stacks import StackSet
from reconciler.loop.tree import mirror_tree
from reconciler.loop.webhook import WebhookServer
from reconciler.model.observed import Observed
from reconciler.model.records import field, record
from reconciler.support.atomic import read_json, write_json
from reconciler.support.trees import remove_tree

SYNC_DIR = "sync"
REQUESTS = "sync/requests"  # `reconcile rollback` writes <stack>.json here
REFUSALS_TOLD = 10  # refused webhook requests reported per minute; a flood is not logged whole


@record
class SyncConfig:
    repo: str
    ref: str = "main"
    path: str = "."  # the folder of stack files inside the repository
    interval: float = 30.0
    keyring: Path | None = None  # --verify-signatures: a GnuPG home
    webhook: tuple[str, int] | None = None
    webhook_secret: bytes = b""
    health_deadline: float = 120.0


@record
class _Inbox:
    """Fetch results handed from the fetching thread to the deciding one."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: Fetched | None = None


class GitSync:
    def __init__(self, config: SyncConfig, state_dir: Path) -> None:
        self.config, self.state_dir = config, state_dir
        root = state_dir / SYNC_DIR
        self.revisions, self.tree, self.head_file = root / "revisions", root / "tree", \
            root / "head.json"
        self.mirror = GitMirror(config.repo, root / "mirror.git")
        self.head: Commit | None = None
        self.fetch_error = ""
        self._inbox = _Inbox()
        self.fetcher = Fetcher(self.mirror, config.ref, self.revisions, config.interval,
                               self._fetched, config.keyring, config.path)
        self.webhook: WebhookServer | None = None
        self._refusals: deque[float] = deque(maxlen=REFUSALS_TOLD)
        self.loop: Loop | None = None
        self.deploys: Deploys | None = None

    def source(self) -> Path:
        """What the loop's StackSet watches: the stack folder of the synced tree."""
        return self.tree / self.config.path

    def stack_set(self) -> StackSet:
        return StackSet([self.source()], commit=lambda: self.head.id if self.head else "")

    # -- Feeder --

    def attach(self, loop: Loop) -> None:
        self.loop = loop
        self.deploys = Deploys(loop, self.mirror, self.revisions, self.source(),
                               self.config.path, self.config.health_deadline)
        self.deploys.restore_holds()
        self.head = self._last_head()
        loop.watcher.watch_intents(self.state_dir / REQUESTS)  # rollback requests wake us
        loop.wakes.put(Wake("intent", "queued"))  # ... and those made while no loop ran
        self.fetcher.start()
        if self.config.webhook is not None:
            host, port = self.config.webhook
            self.webhook = WebhookServer(host, port, self.config.webhook_secret,
                                         self.config.ref, self.fetcher.trigger, self._refused)
            self.webhook.start()
            loop.event("sync-webhook-listening", "", address=self.webhook_address())

    def webhook_address(self) -> str | None:
        if self.webhook is None:
            return None
        host, port = self.webhook.address
        return f"{host}:{port}"

    def detach(self) -> None:
        if self.webhook is not None:
            self.webhook.stop()
        self.fetcher.stop()

    def on_wakes(self, batch: list[Wake]) -> set[str]:
        assert self.loop is not None and self.deploys is not None
        reasons: set[str] = set()
        with self._inbox.lock:
            fetched, self._inbox.latest = self._inbox.latest, None
        if fetched is not None:
            reasons |= self._take(fetched)
        if any(w.kind == "sync" and w.subject == "rollback" for w in batch):
            reasons.add("rollback")  # a rollback decided after the last convergence
        if any(w.kind == "intent" for w in batch):
            reasons |= self._requests()
        reasons |= self.deploys.check_deadlines()
        return reasons

    def next_due(self) -> float:
        return self.deploys.next_due() if self.deploys is not None else float("inf")

    def converged(self, failed: frozenset[str], observed: Observed) -> None:
        if self.deploys is not None and self.deploys.converged(failed, observed):
            assert self.loop is not None
            self.loop.wakes.put(Wake("sync", "rollback"))  # converge the restored revision
        self._collect()  # after the convergence: no container binds a dropped revision

    def status(self) -> dict[str, Any]:
        return {
            "repo": self.config.repo, "ref": self.config.ref, "path": self.config.path,
            "head": self.head.to_json() if self.head else None,
            "fetch_error": self.fetch_error, "fetches": self.fetcher.fetches,
            "webhook": self.webhook_address(),
            "stacks": self.deploys.status() if self.deploys is not None else {},
        }

    # -- in the fetching and webhook threads --

    def _fetched(self, result: Fetched) -> None:
        with self._inbox.lock:
            self._inbox.latest = result
        if self.loop is not None:
            self.loop.wakes.put(Wake("sync", result.commit.id if result.commit else ""))

    def _refused(self, peer: str, why: str) -> None:
        now = time.monotonic()
        if len(self._refusals) == REFUSALS_TOLD and now - self._refusals[0] < 60:
            return
        self._refusals.append(now)
        if self.loop is not None:
            self.loop.event("sync-webhook-refused", "", peer=peer, reason=why, level="warning")

    # -- in the deciding thread --

    def _take(self, fetched: Fetched) -> set[str]:
        assert self.loop is not None and self.deploys is not None
        if fetched.error:
            commit = fetched.commit.event_fields() if fetched.commit else {}
            if fetched.error != self.fetch_error:
                self.loop.event("sync-fetch-failed", "", error=fetched.error, **commit,
                                kept=self.head.id if self.head else None, level="error")
            self.fetch_error = fetched.error
            self.loop.publish()
            return set()
        assert fetched.commit is not None
        if self.fetch_error:
            self.loop.event("sync-fetch-recovered", "", commit=fetched.commit.id)
            self.fetch_error = ""
            self.loop.publish()
        if self.head is not None and fetched.commit.id == self.head.id:
            return set()
        self.head = fetched.commit
        self._switch(fetched.commit.id)
        self.loop.event("sync-fetched", "", **fetched.commit.event_fields())
        self.deploys.activate(fetched.commit)
        return {"sync"}

    def _switch(self, commit: str) -> None:
        mirror_tree(self.revisions / commit, self.tree)
        write_json(self.head_file, {"commit": commit})

    def _last_head(self) -> Commit | None:
        """After a restart: the commit the tree holds (adopted, not deployed again)."""
        doc = read_json(self.head_file)
        if not isinstance(doc, dict) or not isinstance(doc.get("commit"), str):
            return None
        with contextlib.suppress(GitError):
            return self.mirror.commit(doc["commit"])
        return None

    def _requests(self) -> set[str]:
        assert self.deploys is not None
        reasons: set[str] = set()
        folder = self.state_dir / REQUESTS
        for path in sorted(folder.glob("*.json")):
            request = read_json(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if isinstance(request, dict):
                reasons |= self.deploys.requested(str(request.get("stack", "")),
                                                  str(request.get("commit", "")))
        return reasons

    def _collect(self) -> None:
        """Drop exported revisions nothing uses: not the head, not a stack in force or
        held, not a rollback target being deployed."""
        if self.deploys is None:
            return
        keep = self.deploys.revisions_in_use() | {self.head.id if self.head else "",
                                                  self.fetcher.exporting}
        with contextlib.suppress(FileNotFoundError):
            for child in self.revisions.iterdir():
                if child.name not in keep and not child.name.startswith("."):
                    with contextlib.suppress(OSError):
                        remove_tree(child)
