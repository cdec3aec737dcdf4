"""Every benchmark suite in one run (what scripts/bench.sh calls), then the report.

    .venv/bin/python bench/run_all.py [--quick] [--only converge memory ...]

Writes bench/results/<date>.json (<date>-quick.json for --quick), bench/REPORT.md and
bench/plots/*.png. Each suite is isolated: one that fails is reported with its error and
the others still run. The Docker peers use $DOCKER_HOST when set (scripts/bench.sh starts
a private dockerd), else a private dockerd started here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    bench_network,
    common,
    profile_converge,
    report,
    suite_api,
    suite_build,
    suite_compose,
    suite_converge,
    suite_memory,
    suite_plan,
    suite_push,
)
from bench.common import ROOT, Result

FULL = {"converge_n": [10, 50, 200, 500], "repeat": 3, "memory_n": [0, 50, 200, 500],
        "plan_n": [1_000, 10_000], "plan_repeat": 7, "kills": 30, "pull_repeat": 3,
        "profile_n": 50, "network_n": 50, "compose_n": 500, "compose_repeat": 7, "push_repeat": 5,
        "build_files": 200, "build_repeat": 5, "api_clients": 200, "api_duration": 60.0}
QUICK = {"converge_n": [5, 20], "repeat": 2, "memory_n": [0, 5], "plan_n": [1_000, 10_000],
         "plan_repeat": 3, "kills": 10, "pull_repeat": 1, "profile_n": 10,
         "network_n": 10, "compose_n": 500, "compose_repeat": 3, "push_repeat": 1,
         "build_files": 50, "build_repeat": 2, "api_clients": 200, "api_duration": 10.0}
SUITES = ("converge", "plan", "memory", "restart", "pull", "push", "network", "compose",
          "build", "api", "profile")


def converge(p: dict[str, Any], docker: tuple[str | None, str | None]) -> list[Result]:
    with common.workdir() as work:
        return suite_converge.measure(p["converge_n"], p["repeat"], work, *docker)


def memory(p: dict[str, Any], _: object) -> list[Result]:
    with common.workdir() as work:
        return suite_memory.measure(p["memory_n"], work)


def plan(p: dict[str, Any], _: object) -> list[Result]:
    return suite_plan.measure(p["plan_n"], p["plan_repeat"])


def compose(p: dict[str, Any], _: object) -> list[Result]:
    with common.workdir() as work:
        return suite_compose.measure(p["compose_n"], p["compose_repeat"], work)


def build(p: dict[str, Any], docker: tuple[str | None, str | None]) -> list[Result]:
    with common.workdir() as work:
        return suite_build.measure(p["build_files"], p["build_repeat"], work, *docker)


def api(p: dict[str, Any], _: object) -> list[Result]:
    """200 clients following events and logs while the loop restarts a killed container."""
    with common.workdir() as work:
        return suite_api.rows(suite_api.measure(p["api_clients"], p["api_duration"], work))


def _percentile_row(metric: str, n: int, tool: str, stats: dict[str, Any]) -> Result:
    return {"metric": metric, "n": n, "tool": tool, "unit": "s", "samples": [],
            "count": stats["n"], "median": stats["p50"], "p99": stats["p99"],
            "min": stats["min"], "max": stats["max"]}


def _external(script: str, args: list[str]) -> dict[str, Any] | str:
    """Runs bench/<script> --out FILE ARGS; its JSON, or why it did not run."""
    path = ROOT / "bench" / script
    if not path.exists():
        return f"bench/{script} is not in this checkout yet"
    with common.workdir() as work:
        out = work / "out.json"
        done = subprocess.run([sys.executable, str(path), "--out", str(out), *args],
                              capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"bench/{script} failed (exit {done.returncode}): {tail[0][:300]}"
        found: dict[str, Any] = json.loads(out.read_text())
        return found


def restart(p: dict[str, Any], _: object) -> list[Result]:
    found = _external("bench_restart.py", ["--kills", str(p["kills"])])
    metrics = ("restart.after_kill9", "restart.watch_edit")
    if isinstance(found, str):
        return [common.not_run(m, p["kills"], "reconcile-run", found) for m in metrics]
    rec, docker = found["reconcile"], found.get("docker", {})
    rows = [_percentile_row("restart.after_kill9", p["kills"], "reconcile-run", rec["restart"]),
            _percentile_row("restart.watch_edit", rec["converge_after_edit"]["n"],
                            "reconcile-run", rec["converge_after_edit"])]
    if "restart" in docker:
        rows.append(_percentile_row("restart.after_kill9", p["kills"],
                                    "docker-restart-policy", docker["restart"]))
    else:
        rows.append(common.not_run("restart.after_kill9", p["kills"], "docker-restart-policy",
                                   docker.get("not_run", "no result")))
    rows.append(common.not_run("restart.watch_edit", rows[1]["n"], "docker-compose",
                               "docker-compose 1.29 (Debian 12) has no watch mode"))
    return rows


PULL_TOOLS = {"reconcile": "reconcile-images-pull", "docker": "docker-pull",
              "skopeo": "skopeo-copy (transfer only)"}


def pull(p: dict[str, Any], _: object) -> list[Result]:
    found = _external("bench_pull.py", ["--repeat", str(p["pull_repeat"])])
    if isinstance(found, str):
        return [common.not_run("pull.image", 0, "reconcile-images-pull", found)]
    size = round(found.get("image_mib", 0))  # N of the pull rows: the image size in MiB
    rows = []
    for key, tool in PULL_TOOLS.items():
        stats = found.get(key, {"run": False, "reason": "no result"})
        if stats["run"]:
            rows.append(common.result("pull.image", size, tool, stats["times_s"]))
        else:
            rows.append(common.not_run("pull.image", size, tool, stats.get("reason", "?")))
    return rows


def push(p: dict[str, Any], docker: tuple[str | None, str | None]) -> list[Result]:
    """The shared engine serves `docker push` (its own dockerd when there is none)."""
    with common.workdir() as work:
        return suite_push.measure(p["push_repeat"], work, docker[0])


def network(p: dict[str, Any], _: object) -> list[Result]:
    """Its own dockerd with networking on (bench/bench_network.py), not the shared one."""
    with common.workdir() as work:
        rows, left = bench_network.measure(p["network_n"], p["repeat"], work)
    if left:  # shown under "Not run, and why"
        rows.append(common.not_run("network.cleanup", p["network_n"], "bench_network",
                                   f"left on the host: {', '.join(left)[:400]}"))
    return rows


def run_suites(names: list[str], params: dict[str, Any], doc: dict[str, Any]) -> None:
    suites: dict[str, Callable[[dict[str, Any], Any], list[Result]]] = {
        "converge": converge, "plan": plan, "memory": memory, "restart": restart, "pull": pull,
        "push": push, "network": network, "compose": compose, "build": build, "api": api}
    with common.docker_engine() as docker:
        for name in names:
            began = time.monotonic()
            print(f"== {name}", flush=True)
            info: dict[str, Any] = {}
            try:
                if name == "profile":
                    with common.workdir() as work:
                        doc["profile"] = profile_converge.profile(params["profile_n"], work)
                else:
                    doc["results"] += suites[name](params, docker)
            except Exception as error:  # reported in REPORT.md; the other suites still run
                traceback.print_exc()
                info["error"] = f"{type(error).__name__}: {str(error)[:500]}"
            info["seconds"] = round(time.monotonic() - began, 1)
            doc["suites"][name] = info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, few repetitions")
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    common.require_root()
    params = QUICK if args.quick else FULL
    began = time.monotonic()
    doc: dict[str, Any] = {
        "label": "quick" if args.quick else "full",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "params": params, "host": common.host_facts(), "versions": common.peer_versions(),
        "results": [], "suites": {}, "profile": {},
    }
    run_suites(args.only, params, doc)
    doc["host"]["loadavg_at_end"] = list(os.getloadavg())
    doc["seconds"] = round(time.monotonic() - began, 1)
    suffix = "-quick" if args.quick else ""
    dest = ROOT / "bench/results" / f"{datetime.date.today()}{suffix}.json"
    common.write_json(dest, doc)
    print(f"written {dest}")
    if not args.no_report:
        report.build(doc, ROOT / "bench/REPORT.md", ROOT / "bench/plots")
        print(f"written {ROOT / 'bench/REPORT.md'}")
    for row in doc["results"]:
        print(common.describe(row))
    return 1 if any(info.get("error") for info in doc["suites"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
