"""A command's load leaves the collector nothing to walk: no collection runs while the
stacks load, and what they left is frozen before the collector resumes. The collector
re-enabled first runs a young-generation collection at the next allocation, over every
object the load made (~60 ms of a 500-service Compose plan, bench/REPORT.md "Compose
file"), and finds nothing to free. The process's entry freezes everything when the command
returns, for the same reason: the interpreter's final collection."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.cli import commands

# _load imports the loader lazily, outside its pause: imported here, a run of this file
# alone counts only the load's own collections
importlib.import_module("reconciler.spec.stacks")

COMPOSE = """\
name: shop
services:
  web:
    image: nginx:1.25-alpine
    ports: ["8080:80"]
    environment: {TZ: UTC, WORKERS: "4"}
    labels: {com.example.team: platform}
  db:
    image: postgres:16-alpine
    environment: [POSTGRES_PASSWORD=secret]
    volumes: ["data:/var/lib/postgresql/data"]
volumes:
  data: {}
"""
STACK = "version: 1\nname: shop\nimages:\n  app: {ref: 'acme/app:1'}\ncontainers:\n" + "".join(
    f"  c{i}: {{image: app, env: {{N: '{i}'}}, ports: ['{8000 + i}:80']}}\n" for i in range(40))


@pytest.mark.parametrize("name", ["compose.yaml", "shop.yaml"])
def test_no_collection_runs_over_what_the_load_made(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(COMPOSE if name == "compose.yaml" else STACK)
    ctx: Any = SimpleNamespace(schema_cache=None, compose=None)
    started: list[int] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(on_collection)
    try:
        desired = commands._load(ctx, [str(path)])
        frozen = gc.get_freeze_count()
        enabled = gc.isenabled()
    finally:
        gc.callbacks.remove(on_collection)
        gc.unfreeze()
    assert len(desired.containers()) == (2 if name == "compose.yaml" else 40)
    assert started == []
    assert frozen > 0 and enabled


def test_the_process_entry_ends_with_everything_frozen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`main()` on the process's own command line freezes what is alive when it returns, so
    that the interpreter's final collection walks none of it; given words (a caller that
    goes on, as tests do) it leaves the collector as it was."""
    # the package's `main` (the entry point): once cli/main.py is imported, the package's
    # attribute `main` is that submodule until the entry point has run
    from reconciler.cli import _entry as main

    path = tmp_path / "shop.yaml"
    path.write_text(STACK)
    words = ["--state-dir", str(tmp_path / "state"), "validate", str(path)]
    before = gc.get_freeze_count()
    assert main(words) == 0
    assert gc.get_freeze_count() == before
    monkeypatch.setattr("sys.argv", ["reconcile", *words])
    try:
        assert main() == 0
        assert gc.get_freeze_count() > before
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10
    finally:
        gc.unfreeze()
    assert "valid: shop" in capsys.readouterr().out
