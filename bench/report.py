"""Results JSON (bench/results/<date>.json) -> bench/REPORT.md and bench/plots/*.png.

Alone: .venv/bin/python bench/report.py bench/results/<date>.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report_text
from bench.common import ROOT, Result

BENCH = ROOT / "bench"
PLOTS = {  # file -> (metric, title, y label, log scale)
    "converge_cold.png": ("converge.cold", "Cold converge of N containers", "seconds", False),
    "converge_noop.png": ("converge.noop", "No-op re-apply of N containers", "seconds", False),
    "teardown.png": ("teardown", "Teardown of N containers", "seconds", False),
    "plan.png": ("plan.time", "plan() alone vs N (log-log)", "milliseconds", True),
    "memory_manager.png": ("memory.manager_rss", "Resident manager RSS vs N", "MiB", False),
    "memory_total.png": ("memory.total_pss", "Total PSS (manager + per-container) vs N",
                         "MiB", False),
}


def rows(results: list[Result], metric: str) -> list[Result]:
    return [r for r in results if r["metric"] == metric]


def find(results: list[Result], metric: str, n: int, tool: str) -> Result | None:
    for r in results:
        if (r["metric"], r["n"], r["tool"]) == (metric, n, tool) and "median" in r:
            return r
    return None


def ratio(ours: Result | None, peer: Result | None) -> dict[str, float] | None:
    """Median over median, and the spread of the paired ratios: the tools took turns in
    each repetition, so sample i of both sides ran under the same load."""
    if not ours or not peer or not peer["median"]:
        return None
    paired = [a / b for a, b in zip(ours.get("samples", []), peer.get("samples", []),
                                    strict=False) if b]
    spread = (min(paired), max(paired)) if paired else (float("nan"), float("nan"))
    return {"ratio": ours["median"] / peer["median"], "min": spread[0], "max": spread[1]}


def make_plots(results: list[Result], dest: Path) -> dict[str, str]:
    """PNG per metric; returns file -> problem for plots that could not be made."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {name: "matplotlib not installed (pip install '.[bench]')" for name in PLOTS}
    dest.mkdir(parents=True, exist_ok=True)
    problems = {}
    for name, (metric, title, ylabel, log) in PLOTS.items():
        data = [r for r in rows(results, metric) if "median" in r]
        if not data:
            problems[name] = "no data"
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for tool in sorted({r["tool"] for r in data}):
            points = sorted((r["n"], r["median"], r["min"], r["max"]) for r in data
                            if r["tool"] == tool)
            xs, med = [p[0] for p in points], [p[1] for p in points]
            err = [[m - p[2] for m, p in zip(med, points, strict=True)],
                   [p[3] - m for m, p in zip(med, points, strict=True)]]
            ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=tool)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set(title=title, xlabel="N containers", ylabel=ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(dest / name)
        plt.close(fig)
    return problems


def build(data: dict[str, Any], report: Path, plots: Path) -> None:
    problems = make_plots(data["results"], plots)
    text = report_text.render(data, problems, plots.relative_to(report.parent))
    report.write_text(text)


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data = json.loads(Path(sys.argv[1]).read_text())
    build(data, BENCH / "REPORT.md", BENCH / "plots")
    print(f"written {BENCH / 'REPORT.md'} and {BENCH / 'plots'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
