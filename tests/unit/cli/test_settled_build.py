"""The settled rebuild (cli/settled.py, cli/settle.py): a build leaves a record when the
same build again runs no step; the next identical `images build` is answered from it
without the full CLI, printing the same steps and result, journaling the same tag event;
a changed context file, Dockerfile, build argument or tag, or --no-cache take the full path.
The Dockerfile has no RUN: no runtime is needed (FROM scratch, COPY, metadata)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import settled
from tests.unit.cli.test_build_imports import DOCKERFILE, PROBE, ROOT


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "ctx"
    (folder / "src").mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "src" / "run").write_text("one\n")
    return folder


def _build(context: Path, state: Path, tmp: Path, *extra: str,
           env: dict[str, str] | None = None) -> tuple[bool, str]:  # fmt: skip
    """(whether the full CLI ran, stdout) of `images build -t lean/app:1 [extra] CONTEXT`."""
    out = tmp / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "--state-dir", str(state), "images", "build",
         "-t", "lean/app:1", *extra, str(context)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})},
        capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return "reconciler.cli.main" in json.loads(out.read_text())["modules"], done.stdout


def _tag_events(state: Path) -> int:
    lines = (state / "events.jsonl").read_text().splitlines()
    return sum(1 for line in lines if json.loads(line)["type"] == "image-tagged")


def _steady(text: str) -> str:
    """The output without the build's own duration."""
    return "\n".join(line.rsplit(",", 1)[0] for line in text.splitlines())


def test_a_rebuild_is_answered_with_the_same_output_and_journal(
    context: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    full, cold = _build(context, state, tmp_path)
    assert full and "2 steps run, 0 cached" in cold
    full, first = _build(context, state, tmp_path)
    assert not full, "the cold build recorded the cached rebuild"
    assert "0 steps run, 2 cached" in first and "tagged lean/app:1" in first
    (state / "cache" / "settled").rename(tmp_path / "kept")
    full, again = _build(context, state, tmp_path)  # the full path's rebuild, for comparison
    assert full and _steady(again) == _steady(first)
    assert _tag_events(state) == 3, "one tag event per build, answered or not"


def test_a_changed_input_takes_the_full_path(context: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _build(context, state, tmp_path)
    (context / "src" / "run").write_text("two\n")  # same size, other bytes
    full, out = _build(context, state, tmp_path)
    assert full and "1 steps run, 1 cached" in out
    assert not _build(context, state, tmp_path)[0]
    (context / "Dockerfile").write_text(DOCKERFILE.replace("prod", "test"))
    assert _build(context, state, tmp_path)[0]
    assert not _build(context, state, tmp_path)[0]
    (state / "images" / "refs.json").write_text("{}")  # the tag is gone from the store
    assert _build(context, state, tmp_path)[0]


def test_other_words_or_build_arguments_take_their_own_record(
    context: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _build(context, state, tmp_path)
    assert _build(context, state, tmp_path, "--build-arg", "MODE", env={"MODE": "a"})[0]
    assert not _build(context, state, tmp_path, "--build-arg", "MODE", env={"MODE": "a"})[0]
    assert _build(context, state, tmp_path, "--build-arg", "MODE", env={"MODE": "b"})[0]
    assert _build(context, state, tmp_path, "--no-cache")[0]
    assert _build(context, state, tmp_path, "--no-cache")[0], "--no-cache: always built"
    (context / "src" / "run").write_text("two\n")
    assert _build(context, state, tmp_path, "--no-cache")[0]
    assert not _build(context, state, tmp_path)[0], "recorded for the words without it"
    for words in (["images", "build", "--no-cache", "-t", "x", "ctx"],
                  ["images", "build", "-t", "x", "a", "b"], ["images", "build", "-t", "x"],
                  ["images", "build", "--pull", "-t", "x", "ctx"],
                  ["--driver", "docker", "images", "build", "-t", "x", "ctx"]):
        assert settled.parse(words) is None, words
    assert settled.parse(["images", "build", "-t", "x", "--network", "--target=b", "ctx"])
