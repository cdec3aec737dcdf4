"""The "Docker driver vs Compose" section of bench/REPORT.md, from a results JSON written by
`bench/suite_converge.py --tools reconcile-docker compose-v2 docker-compose --json FILE`.

    .venv/bin/python bench/report_docker.py bench/results/docker-<date>.json   (prints Markdown)

Ratios are reconcile-docker / peer, median over median; the spread is the min-max of the
ratios paired by repetition. Targets (issue 12): faster than Compose v2 on all three
operations, and a no-op re-apply of 50 under 0.3x Compose v2's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OURS, V2, V1 = "reconcile-docker", "compose-v2", "docker-compose"
METRICS = (("converge.cold", "cold apply (`up -d` from nothing)"),
           ("converge.noop", "no-op re-apply (`up -d` again)"),
           ("teardown", "teardown (`down`)"))
NOOP_TARGET_N, NOOP_TARGET = 50, 0.3
STARTUP = "noop.imports-outside-driver"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(ours: dict[str, Any], peer: dict[str, Any] | None) -> tuple[float, str] | None:
    if peer is None or "not_run" in peer or "not_run" in ours:
        return None
    ratio = ours["median"] / peer["median"]
    paired = [a / b for a, b in zip(ours["samples"], peer["samples"], strict=False)]
    return ratio, f"**{ratio:.2f}x** ({min(paired):.2f}-{max(paired):.2f})"


def section(doc: dict[str, Any]) -> str:
    rows = {(r["metric"], r["n"], r["tool"]): r for r in doc["results"]}
    ns = sorted({r["n"] for r in doc["results"]})
    out = ["| operation | N | reconcile-docker | Compose v2 | docker-compose 1.29 "
           "| / Compose v2 | / docker-compose 1.29 |", "|---|---|---|---|---|---|---|"]
    targets: list[str] = []
    for metric, label in METRICS:
        for n in ns:
            cells, ours = [], rows.get((metric, n, OURS))
            for tool in (OURS, V2, V1):
                row = rows.get((metric, n, tool))
                if row is None:
                    cells.append("not in this run")
                elif "not_run" in row:
                    cells.append(f"not run: {row['not_run']}")
                else:
                    cells.append(f"{_seconds(row['median'])} ({_seconds(row['min'])}-"
                                 f"{_seconds(row['max'])}, {len(row['samples'])} runs)")
            ratios = [_ratio(ours, rows.get((metric, n, peer))) if ours else None
                      for peer in (V2, V1)]
            out.append(f"| {label} | {n} | " + " | ".join(cells) + " | "
                       + " | ".join(r[1] if r else "-" for r in ratios) + " |")
            if ratios[0] is not None:
                met = "met" if ratios[0][0] < 1 else "missed"
                targets.append(f"- faster than Compose v2, {label}, N={n}: "
                               f"{ratios[0][0]:.2f}x, **{met}**")
                if metric == "converge.noop" and n == NOOP_TARGET_N:
                    met = "met" if ratios[0][0] < NOOP_TARGET else "missed"
                    targets.append(f"- no-op re-apply of {n} under {NOOP_TARGET}x Compose v2: "
                                   f"{ratios[0][0]:.2f}x, **{met}**")
            else:
                targets.append(f"- faster than Compose v2, {label}, N={n}: not measured")
    startup = [f"- N={n}: {_seconds(row['median'])} of the no-op's {_seconds(noop['median'])} "
               f"({row['median'] / noop['median']:.0%})" for n in ns
               if (row := rows.get((STARTUP, n, OURS))) and "not_run" not in row
               and (noop := rows.get(("converge.noop", n, OURS))) and "not_run" not in noop]
    if startup:
        startup = ["Start-up inside reconcile-docker's no-op re-apply: import time outside the "
                   "docker driver (interpreter, CLI, spec, planner), `python -X importtime` "
                   "on one more no-op run (median):", "", *startup, ""]
    cpu = _cpu_table(rows, ns)
    versions = doc.get("versions", {})
    tools = ["| tool | version |", "|---|---|"] + [
        f"| {k} | {v} |" for k, v in versions.items()]
    host = ["| host | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in doc["host"].items()]
    return "\n".join([
        f"Run: {doc.get('date', '?')} ({doc.get('seconds', '?')} s), "
        f"`bench/suite_converge.py`, parameters `{doc.get('params')}`.", "",
        *out, "", *startup, *cpu, "Targets (issue 12):", "", *targets, "", *host, "", *tools,
        ""])


def _cpu_table(rows: dict[tuple[str, int, str], dict[str, Any]], ns: list[int]) -> list[str]:
    """CPU seconds of one cold apply (medians): the client's own, and the engine's (dockerd,
    containerd, shims, runc) serving it; where the wall time goes on a busy machine."""
    lines = []
    for n in ns:
        cells = []
        for tool in (OURS, V2, V1):
            client = rows.get(("converge.cold.client-cpu", n, tool))
            served = rows.get(("converge.cold.engine-cpu", n, tool))
            if not client or not served or "not_run" in client or "not_run" in served:
                cells.append("-")
                continue
            share = client["median"] / (client["median"] + served["median"])
            cells.append(f"{_seconds(client['median'])} + {_seconds(served['median'])} "
                         f"(client {share:.1%})")
        if any(cell != "-" for cell in cells):
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if not lines:
        return []
    return ["CPU of one cold apply, client + engine (dockerd, containerd, shims, runc; "
            "medians):", "", "| N | reconcile-docker | Compose v2 | docker-compose 1.29 |",
            "|---|---|---|---|", *lines, ""]


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(section(json.loads(Path(sys.argv[1]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
