"""`reconcile` end to end on the real kernel: the CLI process, the native driver, runc.

Covers idempotence, replace-only-what-changed, the event journal, down leaving the host
as it was, and convergence after `kill -9` of `reconcile apply` at random points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.native_helpers import REPO, find_leaks, require_host

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]

STACK = """\
version: 1
name: {name}
images:
  bb: {{oci: {image}}}
containers:
  db:
    image: bb
    command: ["sleep", "3600"]
    env: {{MODE: one}}
    limits: {{memory: 32Mi, pids: 50}}
    stop_grace_period: 1s  # sleep as PID 1 ignores SIGTERM: do not wait 10 s for it
  web:
    image: bb
    command: ["sh", "-c", "echo web up; exec sleep 3600"]
    depends_on: [db]
    stop_signal: SIGKILL
  job:
    image: bb
    command: ["sh", "-c", "echo done; exit 3"]
"""


class Cli:
    def __init__(self, state: Path, stack: Path, name: str) -> None:
        self.state, self.stack, self.name = state, stack, name

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*RECONCILE, "--state-dir", str(self.state), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
        return done

    def ps(self) -> dict[str, dict[str, object]]:
        rows = json.loads(self.run("ps", "-o", "json", self.name).stdout)
        return {row["name"]: row for row in rows}

    def events(self) -> list[dict[str, object]]:
        out = self.run("events", "-o", "json").stdout
        return [json.loads(line) for line in out.splitlines()]


def _host_snapshot(state: Path) -> tuple[list[str], list[str]]:
    with open("/proc/mounts", encoding="utf-8") as f:
        mounts = [line.split()[1] for line in f if str(state) in line]
    cgroups = sorted(str(p) for p in Path("/sys/fs/cgroup").glob("*/reconcile/*-it-*"))
    return mounts, cgroups


@pytest.fixture()
def cli(tmp_path: Path) -> Iterator[Cli]:
    require_host()
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    name = f"it-{os.getpid() % 10000}-{random.randrange(10**6)}"
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.format(name=name, image=image))
    state = tmp_path / "state"
    before = _host_snapshot(state)
    c = Cli(state, stack, name)
    yield c
    c.run("down", name, "--volumes", check=False)
    from reconciler.drivers.native.driver import NativeDriver

    names = {f"{name}-{k}" for k in ("db", "web", "job")}
    assert find_leaks(NativeDriver(state), names) == []
    assert _host_snapshot(state) == before


def _wait_exited(cli: Cli, name: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = cli.ps().get(name)
        if row and row["state"] == "exited":
            return row
        time.sleep(0.1)
    raise AssertionError(f"{name} did not exit")


def test_apply_is_idempotent_and_replaces_only_what_changed(cli: Cli) -> None:
    out = cli.run("apply", str(cli.stack)).stdout
    assert f"+ create {cli.name}-db" in out
    rows = cli.ps()
    assert rows[f"{cli.name}-db"]["state"] == "running"
    assert rows[f"{cli.name}-web"]["state"] == "running"
    job = _wait_exited(cli, f"{cli.name}-job")
    assert job["exit_code"] == 3  # a finished one-shot job is left alone, not re-run
    pids = {n: r["pid"] for n, r in cli.ps().items()}
    count = len(cli.events())
    out = cli.run("apply", str(cli.stack)).stdout
    assert "Nothing to do" in out
    assert len(cli.events()) == count  # touched nothing
    cli.stack.write_text(cli.stack.read_text().replace("MODE: one", "MODE: two"))
    plan = cli.run("plan", "--detailed-exitcode", str(cli.stack), check=False)
    assert plan.returncode == 2
    assert f'~ replace {cli.name}-db  (env.MODE "one" → "two")' in plan.stdout
    cli.run("apply", str(cli.stack))
    after = cli.ps()
    assert after[f"{cli.name}-db"]["pid"] != pids[f"{cli.name}-db"]
    assert after[f"{cli.name}-web"]["pid"] == pids[f"{cli.name}-web"]
    kinds = [(e["type"], e["name"]) for e in cli.events()[count:]]
    db = f"{cli.name}-db"
    assert kinds == [("died", db), ("removed", db), ("created", db), ("started", db)]


def test_events_record_deaths_with_exit_code(cli: Cli) -> None:
    cli.run("apply", str(cli.stack))
    _wait_exited(cli, f"{cli.name}-job")
    deaths = [e for e in cli.events() if e["type"] == "died"]
    assert {"name": f"{cli.name}-job", "exit_code": 3} in [
        {"name": e["name"], "exit_code": e["exit_code"]} for e in deaths]
    logs = cli.run("logs", f"{cli.name}/job").stdout
    assert logs.strip() == "done"


def test_container_killed_behind_our_back_is_seen_and_restarted_by_apply(cli: Cli) -> None:
    cli.run("apply", str(cli.stack))
    web = cli.ps()[f"{cli.name}-web"]
    os.kill(int(str(web["pid"])), signal.SIGKILL)
    row = _wait_exited(cli, f"{cli.name}-web")
    assert row["exit_code"] == 137
    # restart: no -> an exited container is left exited; change the policy and apply.
    cli.stack.write_text(cli.stack.read_text().replace(
        "    depends_on: [db]", "    depends_on: [db]\n    restart: always"))
    out = cli.run("apply", str(cli.stack)).stdout
    assert f"start {cli.name}-web" in out
    assert cli.ps()[f"{cli.name}-web"]["state"] == "running"


def test_kill_9_of_apply_at_random_points_then_apply_converges(cli: Cli) -> None:
    rng = random.Random(7)
    for _ in range(6):
        proc = subprocess.Popen([*RECONCILE, "--state-dir", str(cli.state), "apply",
                                 str(cli.stack)], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.2))
        proc.kill()
        proc.wait()
        if rng.random() < 0.5:
            cli.run("down", cli.name)  # interrupted downs too, every other round
    cli.run("apply", str(cli.stack))
    out = cli.run("apply", str(cli.stack)).stdout
    assert "Nothing to do" in out
    rows = cli.ps()
    assert sorted(rows) == sorted(f"{cli.name}-{k}" for k in ("db", "job", "web"))
    assert rows[f"{cli.name}-db"]["state"] == "running"
    runc = subprocess.run(["runc", "--root", str(cli.state / "runc"), "list", "-q"],
                          capture_output=True, text=True, check=True).stdout.split()
    # No duplicate or stray runtime containers; an exited one has none (its monitor ran
    # `runc delete` after recording the exit).
    assert sorted(runc) == sorted(n for n, row in rows.items() if row["state"] != "exited")


def test_noop_reapply_on_real_containers_stays_lean(cli: Cli, tmp_path: Path) -> None:
    """The import guard of tests/unit/cli/test_noop_imports.py on containers runc runs (on
    a private network, so networking is observed too and may be imported)."""
    from tests.unit.cli.test_noop_imports import PROBE, unwanted

    cli.run("apply", str(cli.stack))
    _wait_exited(cli, f"{cli.name}-job")
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "--state-dir", str(cli.state),
                           "apply", str(cli.stack)], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120, check=False)
    assert done.returncode == 0 and "Nothing to do" in done.stdout, done.stderr
    modules = json.loads(out.read_text())["modules"]
    assert unwanted(modules, allowed=("reconciler.drivers.native.network", "pyroute2")) == []
