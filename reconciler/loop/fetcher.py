"""The fetching thread of `reconcile sync`: fetch, verify, export; never deciding.

It fetches every `interval` and whenever triggered (a webhook push). Triggers only set a
flag, so any number of them during a fetch lead to exactly one more fetch: at most one in
flight plus one pending, whatever the flood; and fetches start at least MIN_GAP apart, so
a flood of pushes costs at most one fetch per MIN_GAP. Each result (a new commit
exported, or an error) is handed to `on_result`, which wakes the loop's deciding thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.loop.gitrepo import Commit, GitError, GitMirror
from reconciler.model.records import record

MIN_GAP = 1.0  # seconds between the starts of two fetches


@record(frozen=True)
class Fetched:
    commit: Commit | None  # None when the fetch itself failed
    error: str = ""  # a fetch error, or why the commit is refused (signature)


class Fetcher:
    def __init__(self, mirror: GitMirror, ref: str, revisions: Path, interval: float,
                 on_result: Callable[[Fetched], None], keyring: Path | None = None,
                 path: str = ".") -> None:
        self.mirror, self.ref, self.revisions, self.path = mirror, ref, revisions, path
        self.interval, self.on_result, self.keyring = interval, on_result, keyring
        self.fetches = 0  # how many fetches ran (the webhook flood test counts them)
        self.exporting = ""  # the commit exported last (or now): not garbage yet
        self._flag = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="git-fetch", daemon=True)

    def start(self) -> None:
        self._flag.set()  # the first fetch at once
        self._thread.start()

    def trigger(self) -> None:
        self._flag.set()

    def stop(self) -> None:
        self._stopping.set()
        self._flag.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        last = float("-inf")
        while not self._stopping.is_set():
            self._flag.wait(self.interval)
            self._stopping.wait(max(0.0, last + MIN_GAP - time.monotonic()))
            self._flag.clear()  # triggers up to now are served by this fetch
            if self._stopping.is_set():
                return
            last = time.monotonic()
            self.fetches += 1
            self.on_result(self.fetch_once())

    def fetch_once(self) -> Fetched:
        try:
            commit = self.mirror.commit(self.mirror.fetch(self.ref))
        except GitError as err:
            return Fetched(None, str(err))
        try:
            if self.keyring is not None:
                self.mirror.verify(commit.id, self.keyring)
            self.exporting = commit.id  # before it exists: the collector must keep it
            self.mirror.export(commit.id, self.revisions / commit.id)
        except (GitError, OSError) as err:
            return Fetched(commit, str(err))
        if not (self.revisions / commit.id / self.path).is_dir():  # a typo'd --path, or the
            # folder deleted: refused rather than taken as "every stack deleted"
            return Fetched(commit, f"commit {commit.id[:12]} has no folder {self.path!r}")
        return Fetched(commit)
