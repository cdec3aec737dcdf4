"""Where the time of a cold converge goes: `reconcile apply` of N containers under py-spy
(wall-clock sampling with --idle, every thread), folded into the share of each reconciler
function (inclusive) in the executor's worker threads and in the main thread.

Alone: .venv/bin/python bench/profile_converge.py [--n 50] [--json OUT]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.common import RECONCILE
from bench.suite_converge import write_stack

PY_SPY = str(common.ROOT / ".venv/bin/py-spy")
RATE = 200  # samples per second and thread
INTERESTING = ("reconciler/", "subprocess.py")


def _frame_name(frame: str) -> str:
    """`NativeDriver.create (reconciler/drivers/native/driver.py:123)` -> without the line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0]})" if where else name


def fold(raw: Path) -> dict[str, Any]:
    """Inclusive sample counts per function, split by worker/main thread, from py-spy's
    `--format raw` output (one `frame;frame;... count` line per distinct stack)."""
    inclusive: dict[str, collections.Counter[str]] = {
        "worker": collections.Counter(), "main": collections.Counter()}
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        kind = "worker" if any("_worker (" in f for f in frames) else "main"
        totals[kind] += int(count)
        for name in {_frame_name(f) for f in frames}:
            if any(part in name for part in INTERESTING):
                inclusive[kind][name] += int(count)
    shares = {}
    for kind, counter in inclusive.items():
        shares[kind] = [(name, round(100 * c / totals[kind], 1))
                        for name, c in counter.most_common(25) if totals[kind]]
    return {"samples": dict(totals), "share_percent": shares}


KNOWN = (  # function -> what it is, for the findings
    ("NativeDriver._launch_monitor", "monitor launch: the zygote forks the monitor, which runs "
     "`runc run -d` (created and started by one runc process), waited for on its socket"),
    ("NativeDriver.start", "start: the monitor launch above plus started.json (a new "
     "container needs no `runc state`)"),
    ("prepare (", "prepare: overlay mount, /etc files, config.json"),
    ("write_json_atomic", "state records written atomically (write, fsync, rename)"),
    ("logger (", "importing structlog for the progress lines, done once the plan is known "
     "and before the executor starts, so it no longer stalls scheduling mid-apply"),
)


def findings(found: dict[str, Any]) -> list[str]:
    """One sentence per known step with its measured share."""
    lines = []
    for kind in ("worker", "main"):
        for name, pct in found.get("share_percent", {}).get(kind, []):
            for key, meaning in KNOWN:
                if name.startswith(key):
                    lines.append(f"- {pct:.0f}% of {kind}-thread time: {meaning}.")
    return lines


def profile(n: int, work: Path) -> dict[str, Any]:
    if not Path(PY_SPY).exists() and not shutil.which("py-spy"):
        return {"not_run": "py-spy not installed (pip install '.[bench]')"}
    image = common.make_image(work / "busybox")
    base = [RECONCILE, "--state-dir", str(work / "state")]
    write_stack(work / "warm.yaml", image, 1, name="warm")
    common.run([*base, "apply", str(work / "warm.yaml")])
    common.run([*base, "down", "warm"])
    write_stack(work / "bench.yaml", image, n)
    raw = work / "raw.txt"
    spy = PY_SPY if Path(PY_SPY).exists() else "py-spy"
    began = time.perf_counter()
    try:
        common.run([spy, "record", "--idle", "--format", "raw", "--rate", str(RATE),
                    "-o", str(raw), "--", sys.executable, RECONCILE, *base[1:], "apply",
                    str(work / "bench.yaml")])
        wall = time.perf_counter() - began
    finally:
        subprocess.run([*base, "down", "bench"], capture_output=True, check=False)
    found = {"tool": "py-spy --idle", "n": n, "rate_hz": RATE, "wall_s": round(wall, 3),
             **fold(raw)}
    found["findings"] = findings(found)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args()
    common.require_root()
    with common.workdir() as work:
        found = profile(args.n, work)
    for kind in ("worker", "main"):
        for name, pct in found.get("share_percent", {}).get(kind, [])[:12]:
            print(f"{kind:<6} {pct:5.1f}%  {name}")
    if args.json:
        common.write_json(args.json, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
