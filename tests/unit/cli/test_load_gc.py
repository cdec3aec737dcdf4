"""A command's load leaves the collector nothing to walk: no collection runs while the
stacks load, and what they left is frozen before the collector resumes. The collector
re-enabled first runs a young-generation collection at the next allocation, over every
object the load made (~60 ms of a 500-service Compose plan, bench/REPORT.md "Compose
file"), and finds nothing to free."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.cli import commands

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
