"""Every shape of value in every place the loader handles specially: loading never raises,
and whatever it refuses is a located problem."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions

SHAPES = ["5", '"s"', "[a, b]", "{a: 1}", "null", "[{a: 1}]", "{a: [1]}", "!reset x",
          "!override [1]", "[[1]]", "{a: {b: 1}}", '"${X"']
SERVICE_KEYS = ["environment", "build", "depends_on", "networks", "logging", "ulimits",
                "ports", "volumes", "secrets", "devices", "extends", "command", "extra_hosts",
                "healthcheck", "env_file", "labels", "expose", "profiles"]
TOP_KEYS = ["include", "secrets", "volumes", "name", "services"]


def _load(folder: Path, first: str, second: str) -> None:
    (folder / "compose.yaml").write_text(first)
    (folder / "o.yaml").write_text(second)
    project = load_compose([folder / "compose.yaml", folder / "o.yaml"],
                           ComposeOptions(environ={}))
    for problem in project.problems:
        assert problem.file and problem.message
        assert problem.severity in ("error", "warning")


@pytest.mark.parametrize("key", SERVICE_KEYS)
def test_any_shape_in_a_service_merges_or_is_a_problem(tmp_path: Path, key: str) -> None:
    for first, second in itertools.product(SHAPES, SHAPES):
        _load(tmp_path,
              f"services:\n  web:\n    image: x\n    {key}: {first}\n"
              f"  base: {{image: y, {key}: {second}}}\n  ext: {{extends: base, {key}: {first}}}\n",
              f"services:\n  web:\n    {key}: {second}\n")


@pytest.mark.parametrize("key", TOP_KEYS)
def test_any_shape_at_the_top_merges_or_is_a_problem(tmp_path: Path, key: str) -> None:
    for first, second in itertools.product(SHAPES, SHAPES):
        _load(tmp_path, f"{key}: {first}\n",
              f"{key}: {second}\nservices: {{w: {{image: x, secrets: {first}, volumes: "
              f"{second}, build: {first}, env_file: {second}, extends: {first}}}}}\n")
