"""A Dockerfile rebuild with nothing changed stays lean: `reconcile images build` served
from the layer cache imports neither the model's dataclasses nor the contract's types, the
unpacker, the registry client, the runc step runner, the container runtime or observe code,
tarfile or subprocess (issue 17: start-up and imports were most of its time). It runs in a
fresh interpreter, as the command does; the Dockerfile has no RUN, so no runtime is needed.

The first, cold build shows that the check sees such an import when it happens (it writes
its layers with tarfile).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

NOT_ON_THE_REBUILD_PATH = (
    "yaml", "jsonschema", "structlog", "tarfile", "subprocess", "ctypes", "shutil", "uuid",
    "secrets", "datetime", "http.client", "ssl", "isal",
    "reconciler.model.desired", "reconciler.model.observed", "reconciler.drivers.base",
    "reconciler.drivers.images.unpack", "reconciler.drivers.images.dockerfile.layers",
    "reconciler.drivers.images.dockerfile.runner", "reconciler.drivers.native.registry",
    "reconciler.drivers.native.buildrun", "reconciler.drivers.native.container.runtime",
    "reconciler.drivers.native.container.observe", "reconciler.spec", "reconciler.engine",
    "reconciler.planner",
)  # fmt: skip

DOCKERFILE = "FROM scratch\nWORKDIR /app\nCOPY src/ ./src/\nENV MODE=prod\nCMD [\"/app/run\"]\n"

PROBE = """
import json, sys
from reconciler.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def _build(context: Path, state: Path, out: Path) -> tuple[dict[str, object], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "--state-dir", str(state), "images", "build",
         "-t", "lean/app:1", str(context)],
        env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result, done.stdout


def unwanted(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in modules
                  if any(m == n or m.startswith(n + ".") for n in NOT_ON_THE_REBUILD_PATH))


def test_a_cached_rebuild_imports_only_what_it_needs(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "src" / "pkg").mkdir(parents=True)
    (context / "Dockerfile").write_text(DOCKERFILE)
    for index in range(5):
        (context / "src" / "pkg" / f"mod{index}.py").write_text(f"x = {index}\n")
    cold, cold_output = _build(context, tmp_path / "state", tmp_path / "cold.json")
    assert "2 steps run, 0 cached" in cold_output, cold_output
    assert "tarfile" in unwanted(cold["modules"])
    # the full path's rebuild: without the settled record the cold build left (cli/settled.py)
    shutil.rmtree(tmp_path / "state" / "cache" / "settled")
    warm, warm_output = _build(context, tmp_path / "state", tmp_path / "warm.json")
    assert warm["code"] == 0 and "0 steps run, 2 cached" in warm_output, warm_output
    assert unwanted(warm["modules"]) == []
