"""The no-op re-apply stays lean: `reconcile apply` of unchanged stacks on the native driver,
when nothing is to be done, imports neither the YAML parser, the schema validator, the
logging library, the Docker SDK, HTTP, netlink, the file watcher, nor the code that makes
containers, pulls images or runs the loop (issue 14: start-up and imports were most of its
0.47 s). It runs in a fresh interpreter, as the command does, on a native state dir that
holds what the driver records for two running containers (a live process each, whose
parent is this test process, as the monitor is the container's parent).

A module imported eagerly again on that path makes this test fail, naming it; the first,
cold apply shows that the check sees those imports when they happen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.container.state import ContainerRecord, StateLayout
from reconciler.model import hashing, labels
from reconciler.spec.stacks import load_stacks

ROOT = Path(__file__).resolve().parents[3]
DIGEST = "sha256:" + "ab" * 32

# top-level packages, and our own modules, that a no-op apply has no use for
NOT_ON_THE_NOOP_PATH = (
    "yaml", "jsonschema", "structlog", "rich", "docker", "requests", "urllib3", "http.client",
    "ssl", "pyroute2", "watchdog", "zstandard", "pyrage", "difflib", "tarfile",
    "reconciler.spec.loader", "reconciler.spec.schema_fast",
    "reconciler.drivers.docker", "reconciler.drivers.images.store",
    "reconciler.drivers.native.library", "reconciler.drivers.native.network",
    "reconciler.drivers.native.registry.client", "reconciler.drivers.native.deaths",
    "reconciler.drivers.native.container.prepare", "reconciler.loop.control",
    "reconciler.cli.ops", "reconciler.cli.sync", "reconciler.planner.markdown",
)  # fmt: skip

STACK = """\
version: 1
name: lean
images:
  bb: {oci: ./image}
containers:
  one: {image: bb, command: ["sleep", "60"], network: none}
  two: {image: bb, command: ["sleep", "60"], network: none}
"""

# Runs the command's own entry point, then lists what got imported (in a file: stdout is
# the command's).
PROBE = """
import json, sys
from reconciler.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(stack folder, state dir): the stack's containers recorded as running."""
    stacks = tmp_path / "stacks"
    (stacks / "image").mkdir(parents=True)
    (stacks / "image" / "index.json").write_text('{"schemaVersion": 2, "manifests": []}\n')
    (stacks / "lean.yaml").write_text(STACK)
    layout = StateLayout(tmp_path / "state")
    layout.make_dirs()
    desired = load_stacks([stacks])
    (layout.images / "refs.json").write_text(json.dumps(
        {c.image.identity: DIGEST for c in desired.containers()}))
    sleepers = []
    try:
        for spec in desired.containers():
            sleepers.append(subprocess.Popen(["sleep", "60"]))
            _record_running(layout, spec, sleepers[-1].pid)
        yield stacks, layout.root
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def _record_running(layout: StateLayout, spec: object, pid: int) -> None:
    """What create and start leave in a container's folder."""
    from reconciler.model.desired import ContainerSpec

    assert isinstance(spec, ContainerSpec)
    paths = layout.container(spec.name)
    paths.root.mkdir()
    record = ContainerRecord(spec=spec, hashed_fields=hashing.hashed_fields(spec),
                             labels=labels.ownership_labels(spec, DIGEST), image_digest=DIGEST,
                             created_at=time.time())
    paths.record.write_text(json.dumps(record.to_json()))
    paths.monitor_pid.write_text(json.dumps(os.getpid()))  # the container's parent
    paths.container_pid.write_text(f"{pid}\n")
    paths.started.write_text(json.dumps({"started_at": time.time(), "count": 1, "pid": pid}))


def _apply(stacks: Path, state: Path, out: Path) -> tuple[dict[str, object], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "--state-dir", str(state), "apply", str(stacks)],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result, done.stdout


def unwanted(modules: object, allowed: tuple[str, ...] = ()) -> list[str]:
    """The modules of NOT_ON_THE_NOOP_PATH (but `allowed`) among `modules`."""
    assert isinstance(modules, list)
    names = [n for n in NOT_ON_THE_NOOP_PATH if n not in allowed]
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_noop_reapply_imports_only_what_it_needs(host: tuple[Path, Path], tmp_path: Path) -> None:
    stacks, state = host
    cold, cold_output = _apply(stacks, state, tmp_path / "cold.json")
    assert "No changes" in cold_output, cold_output  # the recorded containers are the stack's
    # (valid data passes spec/schema_fast.py: jsonschema is imported only for invalid files)
    assert {"yaml", "reconciler.spec.loader", "reconciler.spec.schema_fast"} <= set(
        unwanted(cold["modules"]))
    # the full path's no-op: without the settled record the cold apply left (cli/settled.py)
    shutil.rmtree(state / "cache" / "settled")
    warm, warm_output = _apply(stacks, state, tmp_path / "warm.json")
    assert warm["code"] == 0 and "No changes" in warm_output
    assert unwanted(warm["modules"]) == []

