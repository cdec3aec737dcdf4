"""The "No-op re-apply, native driver vs Compose v2" section of bench/REPORT.md (issue 14),
from a results JSON written by
`bench/suite_converge.py --n 50 --tools runc-loop reconcile-native compose-v2 docker-compose
python-floor --json FILE`.

    .venv/bin/python bench/report_noop.py bench/results/noop-<date>.json   (prints Markdown)

Ratios are reconcile-native / peer, median over median; the spread is the min-max of the
ratios paired by repetition (the tools take turns inside each repetition). Target (issue
14): a no-op re-apply of 50 at most 0.5x Compose v2's `up -d` on unchanged services.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OURS, TARGET_N, TARGET = "reconcile-native", 50, 0.5
PEERS = (("compose-v2", "Compose v2 `up -d`"), ("docker-compose", "docker-compose 1.29 `up -d`"))
FLOOR = (("startup", "`python -c pass` (venv python, with site)"),
         ("startup.nosite", "`python -S -c pass` (no site)"))


def _ms(row: dict[str, Any]) -> str:
    return (f"{row['median'] * 1000:.0f} ms ({row['min'] * 1000:.0f}-{row['max'] * 1000:.0f}, "
            f"{len(row['samples'])} runs)")


def _ratio(ours: dict[str, Any], peer: dict[str, Any]) -> tuple[float, str]:
    ratio = ours["median"] / peer["median"]
    paired = [a / b for a, b in zip(ours["samples"], peer["samples"], strict=False)]
    return ratio, f"**{ratio:.2f}x** ({min(paired):.2f}-{max(paired):.2f})"


def section(doc: dict[str, Any]) -> str:
    rows = {(r["metric"], r["n"], r["tool"]): r for r in doc["results"] if "median" in r}
    ours = rows[("converge.noop", TARGET_N, OURS)]
    out = ["| no-op re-apply of 50 | time (median, min-max) | reconcile-native / it |",
           "|---|---|---|", f"| reconcile-native `apply DIR` | {_ms(ours)} | 1 |"]
    verdict = ""
    for tool, label in PEERS:
        peer = rows.get(("converge.noop", TARGET_N, tool))
        if peer is None:
            out.append(f"| {label} | not run | - |")
            continue
        ratio, text = _ratio(ours, peer)
        out.append(f"| {label} | {_ms(peer)} | {text} |")
        if tool == "compose-v2":
            verdict = (f"- target: at most {TARGET}x Compose v2: **{ratio:.2f}x, "
                       f"{'met' if ratio <= TARGET else 'missed'}**")
    for metric, label in FLOOR:
        floor = rows.get((metric, TARGET_N, "python-floor"))
        if floor is not None:
            out.append(f"| {label} | {_ms(floor)} | {ours['median'] / floor['median']:.1f}x |")
    host = doc.get("host", {})
    out += ["", verdict,
            f"- load average at start / end of the run: {host.get('loadavg_at_start')} / "
            f"{host.get('loadavg_at_end')} (2 cores)"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(section(json.loads(Path(sys.argv[1]).read_text())))
