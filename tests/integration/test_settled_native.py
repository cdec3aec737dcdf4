"""The settled no-op (cli/settled.py) on containers runc runs: a cold apply leaves the
record, the next apply is answered from it without the full path, and whatever happens to
a container behind reconcile's back (`kill -9` of its process, a `down`) takes the full
path again, which repairs it and records again."""

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
from tests.integration.test_cli_native import Cli, _host_snapshot
from tests.unit.cli.test_settled import PROBE

pytestmark = pytest.mark.integration

STACK = """\
version: 1
name: {name}
images:
  bb: {{oci: {image}}}
containers:
  a: {{image: bb, command: ["sleep", "3600"], network: none, stop_signal: SIGKILL, restart: always}}
  b: {{image: bb, command: ["sleep", "3600"], network: none, stop_signal: SIGKILL}}
"""


@pytest.fixture()
def cli(tmp_path: Path) -> Iterator[Cli]:
    require_host()
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    name = f"st-{os.getpid() % 10000}-{random.randrange(10**6)}"
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.format(name=name, image=image))
    state = tmp_path / "state"
    before = _host_snapshot(state)
    c = Cli(state, stack, name)
    yield c
    c.run("down", name, check=False)
    from reconciler.drivers.native.driver import NativeDriver

    assert find_leaks(NativeDriver(state), {f"{name}-a", f"{name}-b"}) == []
    assert _host_snapshot(state) == before


def _apply(cli: Cli, tmp_path: Path) -> tuple[bool, str]:
    """(whether the full path ran, stdout) of one `reconcile apply STACK`."""
    out = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "--state-dir", str(cli.state),
                           "apply", str(cli.stack)], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return bool(json.loads(out.read_text())["full"]), done.stdout


def _wait_state(cli: Cli, name: str, state: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if cli.ps().get(name, {}).get("state") == state:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} is not {state}")


def test_a_cold_apply_settles_and_a_kill_behind_its_back_is_repaired(
    cli: Cli, tmp_path: Path
) -> None:
    full, out = _apply(cli, tmp_path)
    assert full and f"+ create {cli.name}-a" in out
    assert list((cli.state / "cache" / "settled").iterdir()), "the cold apply recorded"
    full, out = _apply(cli, tmp_path)
    assert not full and "Nothing to do" in out

    a = f"{cli.name}-a"
    os.kill(int(str(cli.ps()[a]["pid"])), signal.SIGKILL)
    _wait_state(cli, a, "exited")
    full, out = _apply(cli, tmp_path)
    assert full and f"start {a}" in out  # restart: always, seen by the full path
    assert cli.ps()[a]["state"] == "running"
    full, out = _apply(cli, tmp_path)
    assert not full and "Nothing to do" in out, "repaired, then settled again"


def test_a_down_is_seen_and_the_next_apply_recreates(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path)
    cli.run("down", cli.name)
    full, out = _apply(cli, tmp_path)
    assert full and f"+ create {cli.name}-b" in out
    assert {r["state"] for r in cli.ps().values()} == {"running"}
