"""Real git repositories in a temporary folder, committed to by a test identity, and a
`reconcile sync` loop (GitSync + Loop) running in a thread against the in-memory driver."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reconciler.loop.control import Loop
from reconciler.loop.gitsync import GitSync, SyncConfig
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver
from tests.requirements import need

IDENTITY = {"GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.invalid",
            "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.invalid"}


class Repo:
    def __init__(self, path: Path) -> None:
        need(shutil.which("git"), "git is not installed (Debian package git)")
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
        done = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                              text=True, env=full, check=True)
        return done.stdout.strip()

    def commit(self, files: dict[str, str | None], message: str, *extra: str,
               env: dict[str, str] | None = None) -> str:
        """Write (or delete, for None) the files, commit them all; the new commit id."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, *extra, env=env)
        return self.git("rev-parse", "HEAD")


def wait(check: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.02)


class SyncHost:
    """A sync loop in a thread; `status()` is its status file, `events()` its journal."""

    def __init__(self, tmp_path: Path, repo: str, *, prune: bool = False,
                 resync: float = 3600, driver: InMemoryDriver | None = None,
                 **config: Any) -> None:
        configure_logging()
        self.driver = driver or InMemoryDriver()
        self.state = tmp_path / "state"
        settings = {"interval": 3600.0, "health_deadline": 5.0, **config}
        self.sync = GitSync(SyncConfig(repo=repo, **settings), self.state)
        self.loop = Loop(self.driver, self.state, [self.sync.source()], resync=resync,
                         prune=prune, feeder=self.sync, stacks=self.sync.stack_set())
        self.thread = threading.Thread(target=self.loop.run)

    def __enter__(self) -> SyncHost:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    def status(self) -> dict[str, Any]:
        try:
            doc = json.loads((self.state / "loop" / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def sync_status(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.status().get("sync") or {}
        return doc

    def stack(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = (self.sync_status().get("stacks") or {}).get(name) or {}
        return found

    def head(self) -> str:
        return str((self.sync_status().get("head") or {}).get("commit", ""))

    def fetch(self) -> None:
        self.sync.fetcher.trigger()

    def events(self, kind: str) -> list[dict[str, Any]]:
        path = self.state / "events.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if r.get("type") == kind]

    def env(self, name: str) -> dict[str, str]:
        spec = self.driver.containers[name].recorded_spec or {}
        env: dict[str, str] = spec.get("env", {})
        return env

    def history(self, stack: str) -> list[dict[str, Any]]:
        doc = json.loads((self.state / "sync" / "history.json").read_text())
        rows: list[dict[str, Any]] = doc["stacks"].get(stack, [])
        return rows


def running(host: SyncHost, name: str) -> bool:
    seen = host.driver.containers.get(name)
    return seen is not None and seen.state == "running"


def stack_yaml(env: str = "1", extra: str = "") -> str:
    return f"""\
version: 1
name: shop
containers:
  web:
    image: "registry.local:5000/acme/web:1.4"
    env: {{VERSION: "{env}"}}
    restart: always
{extra}"""


__all__ = ["Iterator", "Repo", "SyncHost", "running", "stack_yaml", "wait"]
