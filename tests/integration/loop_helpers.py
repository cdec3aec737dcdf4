"""A `reconcile run` process on a temporary state dir and watch folder, for loop tests."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.native_helpers import REPO, find_leaks, require_host, wait_for

RECONCILE = [sys.executable, "-m", "reconciler.cli"]

HEADER = """\
version: 1
name: {name}
images:
  bb: {{oci: {image}}}
containers:
"""

SLEEPER = """\
  {key}:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    restart: {restart}
    env: {{VERSION: "{version}"}}
"""


class LoopHost:
    """The state dir, the watched folder, the loop process and CLI helpers."""

    def __init__(self, root: Path, image: Path) -> None:
        self.root, self.image = root, image
        self.state = root / "state"
        self.stacks = root / "stacks"
        self.stacks.mkdir()
        self.prefix = f"lp{os.getpid() % 1000}{random.randrange(1000)}"
        self.procs: list[subprocess.Popen[str]] = []
        self.names: set[str] = set()  # stack names written, for cleanup

    def stack_text(self, name: str, keys: dict[str, str], restart: str = "always",
                   extra: str = "") -> str:
        body = "".join(SLEEPER.format(key=k, restart=restart, version=v) for k, v in keys.items())
        return HEADER.format(name=name, image=self.image) + body + extra

    def write(self, file: str, text: str, name: str) -> Path:
        """Atomically, as an editor would: temp file, then rename over."""
        self.names.add(name)
        path = self.stacks / file
        tmp = self.stacks / f".{file}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
        return path

    def start(self, *extra: str, options: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        """`extra`: arguments of `run`; `options`: global ones (e.g. --token-file)."""
        log = (self.root / f"loop-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen(
            [*RECONCILE, "--state-dir", str(self.state), "--log-format", "json", *options,
             "run", "--watch", str(self.stacks), *extra],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*RECONCILE, "--state-dir", str(self.state), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
        return done

    def ps(self, *stacks: str) -> dict[str, dict[str, Any]]:
        rows = json.loads(self.cli("ps", "-o", "json", *stacks).stdout)
        return {row["name"]: row for row in rows}

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "-o", "json", check=False)
        try:
            doc: dict[str, Any] = json.loads(done.stdout)
        except ValueError:  # "no control loop status": none written yet (a loop that starts)
            return {}
        return doc

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        path = self.state / "events.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if kind is None or r["type"] == kind]

    def log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.root.glob("loop-*.log")))

    def stop_loops(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    return wait_for(check, timeout, what or str(check))


@pytest.fixture()
def loop_host(tmp_path: Path) -> Iterator[LoopHost]:
    require_host()
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    host = LoopHost(tmp_path, image)
    try:
        yield host
    finally:
        host.stop_loops()
        from reconciler.drivers.native.driver import NativeDriver

        driver = NativeDriver(host.state)
        owned = {c.name for c in driver.observe().containers}
        if host.names:
            host.cli("down", *sorted(host.names), check=False)
        assert find_leaks(driver, owned) == []
