"""The settled no-op (cli/settled.py) on the docker driver, against a real private dockerd:
the record holds the engine GETs of the observe (signed without the listing's moving
`Status`) and the engine's event anchor (drivers/docker/anchor.py); the next apply is
answered from the anchor alone (no GET sent again); an unrelated event makes it send the
GETs, which still answer; a container killed or stopped behind reconcile's back, removed
by hand or disconnected from its network, an image tagged or untagged, or the engine
restarted all take the full path, which repairs and records again."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_engine import DOCKER_CLI, PrivateEngine, docker_engine
from tests.integration.native_helpers import REPO

# tests/unit/cli/test_settled.py's probe, counting the GETs the fast path sent again
PROBE = """
import json, sys
from reconciler.drivers.docker import engine_api
sent = []
real = engine_api.signatures_now
def counting(keys, *args, **kwargs):
    sent.extend(keys)
    return real(keys, *args, **kwargs)
engine_api.signatures_now = counting
from reconciler.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "full": "reconciler.cli.main" in sys.modules, "gets": len(sent)}, f)
"""

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
NETWORKED = """\
version: 1
name: events
images:
  bb: {{oci: {image}}}
containers:
  a: {{image: bb, command: ["sleep", "3600"], stop_signal: SIGKILL, restart: always}}
  c: {{image: bb, command: ["sleep", "3600"], stop_signal: SIGKILL, restart: always}}
"""


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[tuple[PrivateEngine, Path, Path]]:
    stack = _stack(tmp_path, STACK)
    with docker_engine() as engine:
        yield engine, stack, tmp_path / "state"


def _stack(tmp_path: Path, text: str) -> Path:
    """The stack file `text` names, with the busybox image made beside it."""
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    stack = tmp_path / "stack.yaml"
    stack.write_text(text.format(image=image))
    return stack


def _env(engine: PrivateEngine) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "DOCKER_HOST": engine.host, "NO_COLOR": "1"}


def _apply(setup: tuple[PrivateEngine, Path, Path], tmp_path: Path) -> tuple[bool, str]:
    full, _, out = _probe(setup, tmp_path)
    return full, out


def _probe(setup: tuple[PrivateEngine, Path, Path], tmp_path: Path) -> tuple[bool, int, str]:
    """(whether the full path ran, how many GETs the fast path sent again, stdout)."""
    engine, stack, state = setup
    out = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "--driver", "docker",
                           "--state-dir", str(state), "apply", str(stack)], cwd=REPO,
                          env=_env(engine), capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    return bool(result["full"]), int(result["gets"]), done.stdout


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
    kinds = {entry[0] for entry in marshal.loads(record.read_bytes())["reads"]}
    assert {"engine-get", "engine-events"} <= kinds
    full, gets, second = _probe(setup, tmp_path)
    assert not full and gets == 0 and "Nothing to do" in second

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


def test_a_change_behind_reconciles_back_shows_in_the_engine_events_and_takes_the_full_path(
    tmp_path: Path
) -> None:
    stack = _stack(tmp_path, NETWORKED)
    with docker_engine() as engine:
        setup = (engine, stack, tmp_path / "state")
        _settled(setup, tmp_path)
        anchors = [e for e in marshal.loads(next((tmp_path / "state" / "cache" / "settled")
                   .iterdir()).read_bytes())["reads"] if e[0] == "engine-events"]  # fmt: skip
        assert len(anchors) == 1 and anchors[0][1] == engine.host and anchors[0][2] != "none"

        _docker(engine, "volume", "create", "unrelated")  # an event, but no read changed
        full, gets, out = _probe(setup, tmp_path)
        assert not full and gets > 0 and "Nothing to do" in out
        _docker(engine, "volume", "rm", "unrelated")

        _docker(engine, "stop", "-t", "0", "events-a")
        full, _, out = _probe(setup, tmp_path)
        assert full and "start events-a" in out
        _settled(setup, tmp_path)

        _docker(engine, "network", "disconnect", "reconcile-events", "events-c")
        full, _, _ = _probe(setup, tmp_path)
        assert full
        _settled(setup, tmp_path)

        image_id = json.loads(_docker(engine, "inspect", "events-a"))[0]["Image"]
        _docker(engine, "tag", image_id, "retagged:1")
        full, _, _ = _probe(setup, tmp_path)
        assert full
        _settled(setup, tmp_path)
        _docker(engine, "rmi", "retagged:1")  # an untag
        full, _, _ = _probe(setup, tmp_path)
        assert full

        _docker(engine, "rm", "-f", "events-a", "events-c")
        _docker(engine, "network", "rm", "reconcile-events")


def _settled(setup: tuple[PrivateEngine, Path, Path], tmp_path: Path) -> None:
    """An apply (full or not), then one answered from the anchor alone."""
    _probe(setup, tmp_path)
    full, gets, out = _probe(setup, tmp_path)
    assert not full and gets == 0 and "Nothing to do" in out, out
