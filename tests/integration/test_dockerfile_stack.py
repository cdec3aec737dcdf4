"""A stack's Dockerfile image through the command line: `apply` builds it (FROM a stack
image key), runs it, rebuilds and replaces the container when a context file changes,
does nothing when nothing did; `images build` prints the steps and the digest."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.driver import NativeDriver
from tests.integration.native_helpers import REPO, find_leaks, require_host, wait_for

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]
STACK = """\
version: 1
name: {name}
images:
  bb: {{oci: {image}}}
  app: {{dockerfile: ./app/Dockerfile, args: {{WHO: stack}}}}
containers:
  web:
    image: app
    stop_signal: SIGKILL
"""
DOCKERFILE = """\
FROM bb AS build
ARG WHO
COPY greeting.txt /in
RUN echo "$(cat /in) $WHO" > /greeting
FROM bb
COPY --from=build /greeting /greeting
CMD ["sh", "-c", "cat /greeting; exec sleep 3600"]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    require_host()
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"),
                    str(tmp_path / "bb")], check=True, capture_output=True)  # fmt: skip
    yield tmp_path


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*RECONCILE, "--state-dir", str(state), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


def _logs(state: Path, name: str, expected: str) -> None:
    wait_for(lambda: expected in _cli(state, "logs", f"{name}/web").stdout, 10, expected)


def test_apply_builds_runs_and_rebuilds_on_change(folder: Path) -> None:
    name = "dfs" + uuid.uuid4().hex[:6]
    state = folder / "state"
    (folder / "app").mkdir()
    (folder / "app" / "Dockerfile").write_text(DOCKERFILE)
    (folder / "app" / "greeting.txt").write_text("hello")
    stack = folder / f"{name}.yaml"
    stack.write_text(STACK.format(name=name, image=folder / "bb"))
    try:
        applied = _cli(state, "apply", str(stack))
        assert "build app" in applied.stdout + applied.stderr
        _logs(state, name, "hello stack")
        assert "No changes" in _cli(state, "apply", str(stack)).stdout
        (folder / "app" / "greeting.txt").write_text("bye")
        replaced = _cli(state, "apply", str(stack))
        assert "1 to replace" in replaced.stdout
        _logs(state, name, "bye stack")
    finally:
        _cli(state, "down", name)
    assert not find_leaks(NativeDriver(state), {f"{name}-web"})
    # Outside the stack `bb` is no image: the build says so at the FROM line, tags nothing.
    alone = subprocess.run([*RECONCILE, "--state-dir", str(state), "images", "build", "-t",
                            "local/app:1", str(folder / "app")], capture_output=True,
                           text=True, cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert alone.returncode == 1 and "Dockerfile:1: FROM bb:" in alone.stderr, alone.stderr
    assert "local/app" not in _cli(state, "images", "ls").stdout


def test_images_build_prints_steps_and_digest(folder: Path) -> None:
    state = folder / "state"
    context = folder / "ctx"
    context.mkdir()
    (context / "greeting.txt").write_text("hi")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY greeting.txt /\nENV A=1\n")
    first = _cli(state, "images", "build", "-t", "local/min:1", str(context)).stdout
    assert "line 2: COPY greeting.txt /" in first and "tagged local/min:1" in first
    assert "(1 steps run, 0 cached" in first
    again = _cli(state, "images", "build", "-t", "local/min:1", str(context)).stdout
    assert "(0 steps run, 1 cached" in again
    digest = first.split("built ", 1)[1].split()[0]
    assert again.split("built ", 1)[1].split()[0] == digest
    listed = _cli(state, "images", "ls").stdout
    assert digest[:19] in listed and "build-cache:" not in listed
    pruned = _cli(state, "images", "prune").stdout
    assert digest in pruned
