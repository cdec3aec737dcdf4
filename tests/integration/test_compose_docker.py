"""reconcile and the real Compose v2 agree on a project's names, on a private dockerd:
the project name, `<project>-<service>-<n>` containers; a project docker compose runs is
never touched, and the error says how to move it over; after `docker compose down`,
`reconcile apply` of the same file makes the same names."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import docker_archive
from reconciler.spec.stacks import load_stacks
from tests.docker_engine import DOCKER_CLI, PrivateEngine, docker_engine
from tests.integration.native_helpers import REPO
from tests.unit.spec.compose.oracle import compose_binary

pytestmark = pytest.mark.integration

COMPOSE = """\
name: {name}
services:
  web:
    image: rb/busybox:1
    command: ["sleep", "3600"]
    deploy: {{replicas: 2}}
    stop_signal: SIGKILL
  db:
    image: rb/busybox:1
    command: sh -c 'exec sleep 3600'
    stop_signal: SIGKILL
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateEngine]:
    compose_binary()  # missing Compose v2: a failure under CI, before dockerd starts
    with docker_engine() as started:
        work = tmp_path_factory.mktemp("image")
        subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"),
                        str(work / "oci")], check=True, capture_output=True)
        archive = docker_archive(work / "oci", work / "bb.tar", "rb/busybox:1")
        subprocess.run([DOCKER_CLI, "-H", started.host, "load", "-i", str(archive)],
                       check=True, capture_output=True)
        yield started


def _compose(engine: PrivateEngine, folder: Path, *args: str) -> str:
    done = subprocess.run([compose_binary(), *args], cwd=folder, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "DOCKER_HOST": engine.host})
    assert done.returncode == 0, f"compose {args}: {done.stderr}"
    return done.stdout


def _reconcile(engine: PrivateEngine, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler.cli", "--driver", "docker",
                           "--state-dir", str(state), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=180, check=False,
                          env={**os.environ, "DOCKER_HOST": engine.host})


def _compose_names(engine: PrivateEngine, folder: Path) -> set[str]:
    out = _compose(engine, folder, "ps", "-a", "--format", "json")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):  # older Compose: one JSON array
        rows = rows[0]
    return {row["Name"] for row in rows}


def test_names_agree_with_compose_v2_and_a_compose_project_moves_over(
        engine: PrivateEngine, tmp_path: Path) -> None:
    name = f"itcd-{os.getpid() % 10000}-{random.randrange(10**4)}"
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "compose.yaml").write_text(COMPOSE.format(name=name))
    state = tmp_path / "state"
    stack = load_stacks([folder / "compose.yaml"]).stacks[0]
    config = json.loads(_compose(engine, folder, "config", "--format", "json"))
    assert stack.name == config["name"] == name
    try:
        _compose(engine, folder, "up", "-d")
        compose_names = _compose_names(engine, folder)
        assert compose_names == {c.name for c in stack.containers} == {
            f"{name}-web-1", f"{name}-web-2", f"{name}-db-1"}
        refused = _reconcile(engine, state, "apply", str(folder / "compose.yaml"))
        assert refused.returncode == 1
        assert f"Compose project '{name}'" in refused.stderr
        assert f"`docker compose -p {name} down`, then `reconcile apply`" in refused.stderr
        assert _compose_names(engine, folder) == compose_names  # untouched
        _compose(engine, folder, "down")
        moved = _reconcile(engine, state, "apply", str(folder / "compose.yaml"))
        assert moved.returncode == 0, moved.stderr
        rows = json.loads(_reconcile(engine, state, "ps", "-o", "json", name).stdout)
        assert {r["name"] for r in rows} == compose_names
        assert {r["state"] for r in rows} == {"running"}
    finally:
        down = _reconcile(engine, state, "down", name)
        subprocess.run([compose_binary(), "down"], cwd=folder, capture_output=True,
                       env={**os.environ, "DOCKER_HOST": engine.host}, timeout=120,
                       check=False)
    assert down.returncode == 0, down.stderr
    left = subprocess.run([DOCKER_CLI, "-H", engine.host, "ps", "-aq"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert left == []
