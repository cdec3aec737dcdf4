"""How plan() grows with N: 1,000 and 10,000 containers, against the hashing peer of
bench/bench_plan.py (hashed_fields of every container: the least per-container work a
planner that explains its replacements must do), in the same process and run.

Alone: .venv/bin/python bench/suite_plan.py [--repeat 7] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_plan, common
from bench.common import Result
from reconciler.planner.plan import PlanOptions, plan


def _times_ms(work: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()  # collector pauses depend on heap size, not on the code measured
        try:
            began = time.perf_counter()
            work()
            times.append(round((time.perf_counter() - began) * 1000, 3))
        finally:
            gc.enable()
    return times


def measure(ns: list[int], repeat: int) -> list[Result]:
    samples: dict[tuple[str, int, str], list[float]] = {}
    options = PlanOptions(prune=True)
    for n in ns:
        print(f"  plan n={n}", flush=True)
        desired, observed = bench_plan.world(n)
        specs = desired.containers()
        samples[("plan.time", n, "reconcile-plan")] = _times_ms(
            partial(plan, desired, observed, options), repeat)
        samples[("plan.time", n, "hashing-peer")] = _times_ms(
            partial(bench_plan._hash_all, specs), repeat)
    return common.collect(samples, unit="ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results = measure(args.n, args.repeat)
    for row in results:
        print(common.describe(row))
    if args.json:
        common.write_json(args.json, {"host": common.host_facts(), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
