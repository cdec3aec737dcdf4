"""The settled no-op (cli/settled.py) on the docker driver, against a real private dockerd:
the record holds the engine GETs of the observe (signed without the listing's moving
`Status`); the next apply is answered from it; a container killed behind reconcile's back,
removed by hand, or the engine restarted all take the full path, which repairs and records
again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_engine import DOCKER_CLI, PrivateEngine, docker_engine
from tests.integration.native_helpers import REPO
from tests.unit.cli.test_settled import PROBE

pytestmark = pytest.mark.integration

STACK = """\
version: 1
name: settled
images:
  bb: {{oci: {image}}}
containers:
  a: {{image: bb, command: ["sleep", "3600"], network: none, stop_signal: SIGKILL, restart: always}}
  b: {{image: bb, command: ["sleep", "3600"], network: none, stop_signal: SIGKILL}}
"""


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[tuple[PrivateEngine, Path, Path]]:
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.format(image=image))
    with docker_engine() as engine:
        yield engine, stack, tmp_path / "state"


def _env(engine: PrivateEngine) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "DOCKER_HOST": engine.host, "NO_COLOR": "1"}


def _apply(setup: tuple[PrivateEngine, Path, Path], tmp_path: Path) -> tuple[bool, str]:
    engine, stack, state = setup
    out = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "--driver", "docker",
                           "--state-dir", str(state), "apply", str(stack)], cwd=REPO,
                          env=_env(engine), capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return bool(json.loads(out.read_text())["full"]), done.stdout


def _docker(engine: PrivateEngine, *words: str) -> str:
    return subprocess.run([DOCKER_CLI, "-H", engine.host, *words], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def _exited(engine: PrivateEngine, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not json.loads(_docker(engine, "inspect", name))[0]["State"]["Running"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} still runs")


def test_the_engine_reads_settle_and_any_change_of_them_takes_the_full_path(
    setup: tuple[PrivateEngine, Path, Path], tmp_path: Path
) -> None:
    engine, _, state = setup
    full, out = _apply(setup, tmp_path)
    assert full and "+ create settled-a" in out
    record = next((state / "cache" / "settled").iterdir())
    kinds = {entry[0] for entry in json.loads(record.read_text())["reads"]}
    assert "engine-get" in kinds
    full, second = _apply(setup, tmp_path)
    assert not full and "Nothing to do" in second

    pid = json.loads(_docker(engine, "inspect", "settled-a"))[0]["State"]["Pid"]
    os.kill(pid, 9)  # behind reconcile's back (the engine restarts nothing: docs/docker.md)
    _exited(engine, "settled-a")
    full, out = _apply(setup, tmp_path)
    assert full and "start settled-a" in out  # restart: always, seen by the full path
    full, _ = _apply(setup, tmp_path)
    assert not full, "repaired, then recorded again"

    _docker(engine, "rm", "-f", "settled-b")
    full, out = _apply(setup, tmp_path)
    assert full and "+ create settled-b" in out

    engine.stop_daemon()
    engine.start()  # containers come back stopped (or restarted: a), with new start times
    full, _ = _apply(setup, tmp_path)
    assert full
    _docker(engine, "rm", "-f", "settled-a", "settled-b")
