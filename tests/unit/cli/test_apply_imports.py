"""An apply that changes something, and a `down`, with stderr on a pipe (CI, scripts, the
benchmarks) import neither structlog nor rich: ~0.2-0.4 s of each such command was theirs
before the executor could start (issue 12). Their progress lines are still written, as
structlog wrote them (tests/unit/support/test_logsetup.py). A fresh interpreter runs the
command's entry point with the in-memory driver (the imports are the CLI's, not a driver's).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("structlog", "rich", "asyncio")  # (attrs comes with jsonschema, for a changed file)

STACK = """\
version: 1
name: busy
images:
  bb: {oci: ./image}
containers:
  one: {image: bb, command: ["sleep", "60"], network: none}
  two: {image: bb, command: ["sleep", "60"], network: none, depends_on: [one]}
"""

# apply, then down, in one process (the fake driver keeps its containers in memory); lists
# what got imported after each
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.fakes import InMemoryDriver
from reconciler.cli import main
driver, seen = InMemoryDriver(), {}
state, stacks, out = sys.argv[2:5]
seen["apply"] = main(["--state-dir", state, "apply", stacks], driver=driver)
seen["apply_modules"] = sorted(sys.modules)
seen["down"] = main(["--state-dir", state, "down", "busy"], driver=driver)
seen["down_modules"] = sorted(sys.modules)
with open(out, "w") as f:
    json.dump(seen, f)
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_apply_and_down_on_a_pipe_import_no_logging_or_terminal_library(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    (stacks / "image").mkdir(parents=True)
    (stacks / "image" / "index.json").write_text('{"schemaVersion": 2, "manifests": []}\n')
    (stacks / "busy.yaml").write_text(STACK)
    out = tmp_path / "seen.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), str(tmp_path / "state"), str(stacks), str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(out.read_text())
    assert (seen["apply"], seen["down"]) == (0, 0), done.stderr
    assert "Apply complete." in done.stdout and "Removed 2 container(s) of busy." in done.stdout
    # the progress lines, in structlog's plain console format
    line = r"\d{4}-\d\d-\d\dT[\d:.]+Z \[info     \] %s +seconds=[\d.]+$"
    for what in ("create busy-one", "create busy-two", "remove busy-one", "remove busy-two"):
        assert re.search(line % re.escape(what), done.stderr, re.M), done.stderr
    assert _heavy(seen["apply_modules"]) == []
    assert _heavy(seen["down_modules"]) == []
