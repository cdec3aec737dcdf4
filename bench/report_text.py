"""The Markdown of bench/REPORT.md, from a results document (see bench/run_all.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.common import Result

OURS = "reconcile-native"
TIMED = (("converge.cold", "Cold converge"), ("converge.noop", "No-op re-apply"),
         ("teardown", "Teardown"))
HEADLINE_PAIRS = (  # (metric, ours, peer)
    ("converge.cold", OURS, "runc-loop"), ("converge.cold", OURS, "docker-compose"),
    ("converge.noop", OURS, "docker-compose"), ("converge.noop", OURS, "compose-v2"),
    ("teardown", OURS, "runc-loop"),
    ("teardown", OURS, "docker-compose"),
)
DOCKER_PAIRS = tuple(  # reconcile's docker driver vs both Composes, on the same engine
    (metric, "reconcile-docker", peer) for metric in ("converge.cold", "converge.noop", "teardown")
    for peer in ("compose-v2", "docker-compose"))
OTHER_PAIRS = (  # (metric, ours, peer, words)
    ("restart.after_kill9", "reconcile-run", "docker-restart-policy", "restart after kill -9, p50"),
    ("memory.per_container_pss", "reconcile-monitor", "containerd-shim",
     "memory per container (PSS, median)"),
    ("memory.manager_rss", "reconcile-run", "dockerd+containerd", "resident manager RSS"),
    ("pull.image", "reconcile-images-pull", "docker-pull", "pull + unpack"),
    ("push.image", "reconcile-images-push", "docker-push", "push of a ~100 MB image"),
    ("build.nochange", "reconcile-images-build", "docker-build-legacy",
     "Dockerfile rebuild, nothing changed"),
    ("network.create", OURS, "docker-compose", "networking create (bridge, veth, port)"),
    ("network.remove", OURS, "docker-compose", "networking remove"),
)
METHOD = """\
## Method

- Every tool runs the same busybox image (scripts/make-busybox-image.py; loaded into Docker
  as a docker-archive tar built from the same layer) and the same command, `sleep 3600`.
- No network but loopback on every side: reconcile `network: none`, compose
  `network_mode: none`, the runc loop's default spec (its own netns, loopback only). The
  private dockerd runs with `--bridge=none --iptables=false --ip6tables=false
  --ip-masq=false`, so it makes no docker0, veth or iptables rule; Docker's per-container
  network setup is therefore not part of its numbers (nor is reconcile's bridge/veth setup).
- Networking alone (bench/bench_network.py): a second private dockerd with `--iptables=true`;
  each side brings N containers up and down with networking (a bridge per stack, a veth and
  an address and one published port per container) and without (`network: none`), and the
  networking time is the difference, paired by repetition. What that dockerd adds to the
  host's nft tables, links and sysctls is deleted after it stops, and checked.
- Stop: SIGKILL on every side (`stop_signal: SIGKILL`, compose `stop_grace_period: 0s`,
  `runc delete -f`): `sleep` as PID 1 ignores SIGTERM, and no tool should wait a grace period.
- The tools take turns inside each repetition, so a drift in the machine's load hits all
  alike; ratios are median over median, and the spread is the min-max of the ratios paired
  by repetition.
- reconcile's image is imported once before timing (a warm-up apply of one container), as
  Docker's image is loaded before timing.
- Memory: RSS counts shared pages in full for each process; PSS divides them among sharers
  (many monitors share one interpreter), so a PSS sum is what N processes really cost.
"""


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def _find(results: list[Result], metric: str, n: int, tool: str) -> Result | None:
    return next((r for r in results if (r["metric"], r["n"], r["tool"]) == (metric, n, tool)
                 and "median" in r), None)


def _ratio(ours: Result | None, peer: Result | None) -> str:
    from bench.report import ratio

    found = ratio(ours, peer)
    if not found:
        return "not run"
    text = f"**{found['ratio']:.2f}x**"
    if not math.isnan(found["min"]) and len(ours.get("samples", [])) > 1:  # type: ignore[union-attr]
        text += f" ({found['min']:.2f}-{found['max']:.2f})"
    return text


def header(data: dict[str, Any]) -> list[str]:
    lines = ["# reconcile benchmarks", ""]
    if data.get("label") == "quick":
        lines += ["> **QUICK RUN** (`--quick`: small N, few repetitions, on a machine shared",
                  "> with other work). It shows the harness works; the numbers are noisy and",
                  "> are not the final ones. `make bench` runs the full parameters.", ""]
    lines += [f"Run: {data['date']} ({data['label']}, {data['seconds']:.0f} s). "
              f"Parameters: `{data['params']}`.", "",
              "Ratios are reconcile / peer: below 1 reconcile is faster, above 1 slower.", "",
              "| host | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in data["host"].items()]
    lines += ["", "| tool | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in data["versions"].items()]
    return [*lines, ""]


def headline(results: list[Result]) -> list[str]:
    ns = sorted({r["n"] for r in results if r["metric"] == "converge.cold"})
    lines = ["## Headline ratios", "", "| what | peer | " + " | ".join(f"N={n}" for n in ns)
             + " |", "|---|---|" + "---|" * len(ns)]
    for metric, ours, peer in HEADLINE_PAIRS:
        cells = [_ratio(_find(results, metric, n, ours), _find(results, metric, n, peer))
                 for n in ns]
        lines.append(f"| {metric} | {peer} | " + " | ".join(cells) + " |")
    for metric, ours, peer in DOCKER_PAIRS:
        cells = [_ratio(_find(results, metric, n, ours), _find(results, metric, n, peer))
                 for n in ns]
        lines.append(f"| {metric} (docker driver) | {peer} | " + " | ".join(cells) + " |")
    lines.append("")
    for metric, ours, peer, what in OTHER_PAIRS:
        both = [(r, _find(results, metric, r["n"], peer)) for r in results
                if (r["metric"], r["tool"]) == (metric, ours) and "median" in r]
        for mine, theirs in both:
            lines.append(f"- {what} (N={mine['n']}): {ours} / {peer} = "
                         f"{_ratio(mine, theirs)}")
    return [*lines, ""]


def timing_tables(results: list[Result], plots: Path, problems: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for metric, title in TIMED:
        data = [r for r in results if r["metric"] == metric]
        if not data:
            continue
        lines += [f"## {title}", ""]
        lines += _plot_link(metric, plots, problems)
        lines += ["| N | tool | median | min - max | runs | vs reconcile-native |",
                  "|---|---|---|---|---|---|"]
        for r in sorted(data, key=lambda r: (r["n"], r["tool"])):
            if "not_run" in r:
                lines.append(f"| {r['n']} | {r['tool']} | not run: {r['not_run']} | | | |")
                continue
            ours = _find(results, metric, r["n"], OURS)
            rel = "" if r["tool"] == OURS else _ratio(ours, r)
            lines.append(f"| {r['n']} | {r['tool']} | {fmt(r['median'], r['unit'])} | "
                         f"{fmt(r['min'], r['unit'])} - {fmt(r['max'], r['unit'])} | "
                         f"{len(r['samples'])} | {rel} |")
        lines.append("")
    return lines


def _plot_link(metric: str, plots: Path, problems: dict[str, str]) -> list[str]:
    from bench.report import PLOTS

    out = []
    for name, (plotted, title, _, _) in PLOTS.items():
        if plotted == metric:
            out.append(f"plot not made: {problems[name]}" if name in problems
                       else f"![{title}]({plots / name})")
    return [*out, ""] if out else []


def plain_table(results: list[Result], prefix: str, title: str, plots: Path,
                problems: dict[str, str], note: str = "") -> list[str]:
    data = sorted((r for r in results if r["metric"].startswith(prefix)),
                  key=lambda r: (r["metric"], r["n"], r["tool"]))
    if not data:
        return []
    lines = [f"## {title}", ""] + ([note, ""] if note else [])
    for metric in dict.fromkeys(r["metric"] for r in data):
        lines += _plot_link(metric, plots, problems)
    lines += ["| metric | N | tool | median (p50) | p99 / max | min | runs |",
              "|---|---|---|---|---|---|---|"]
    for r in data:
        if "not_run" in r:
            lines.append(f"| {r['metric']} | {r['n']} | {r['tool']} | not run: "
                         f"{r['not_run']} | | | |")
            continue
        top: float = r["p99"] if "p99" in r else r["max"]
        runs = r.get("count", len(r.get("samples", [])))
        lines.append(f"| {r['metric']} | {r['n']} | {r['tool']} | {fmt(r['median'], r['unit'])}"
                     f" | {fmt(top, r['unit'])} | {fmt(r['min'], r['unit'])} | {runs} |")
    return [*lines, ""]


def not_run_section(results: list[Result], suites: dict[str, Any]) -> list[str]:
    lines = ["## Not run, and why", ""]
    seen = sorted({(r["tool"], r["metric"].split(".")[0], r["not_run"]) for r in results
                   if "not_run" in r})
    lines += [f"- {tool} ({metric}): {why}" for tool, metric, why in seen]
    lines += [f"- suite {name}: failed: {info['error']}" for name, info in suites.items()
              if info.get("error")]
    return [*lines, ""] if len(lines) > 2 else [*lines, "Everything ran.", ""]


def profile_section(found: dict[str, Any]) -> list[str]:
    lines = ["## Where the time goes", ""]
    if not found or "not_run" in found:
        why = (found or {}).get("not_run", "profile not taken")
        return [*lines, f"Not run: {why}", ""]
    lines += [f"`{found['tool']}` on a cold `reconcile apply` of N={found['n']} "
              f"({found['wall_s']:.2f} s wall). Inclusive share of samples per function:", "",
              "| thread | share | function |", "|---|---|---|"]
    skip = ("run_action", "_timed", "JournaledDriver", "main (", "dispatch", "Popen._comm")
    for kind in ("worker", "main"):
        for name, pct in found["share_percent"].get(kind, [])[:14]:
            if not name.startswith(skip):
                lines.append(f"| {kind} | {pct:.1f}% | `{name}` |")
    return [*lines, "", *found.get("findings", []), ""]


def compose_target(results: list[Result]) -> str:
    from bench.suite_compose import CPU_METRIC, METRIC, verdict

    if not any(r["metric"] == METRIC for r in results):
        return ""
    return (f"Target (issue 15) at most 0.5x Compose v2: wall {verdict(results, METRIC)}; "
            f"CPU time {verdict(results, CPU_METRIC)}.")


def render(data: dict[str, Any], problems: dict[str, str], plots: Path) -> str:
    results = data["results"]
    lines = header(data) + headline(results) + timing_tables(results, plots, problems)
    lines += plain_table(results, "plan.", "plan() alone", plots, problems,
                         "Pure planning time, no I/O: how it grows with N (peer: hashing "
                         "every container, bench/bench_plan.py).")
    lines += plain_table(results, "memory.", "Memory", plots, problems,
                         "per_container: one monitor (reconcile) or one containerd-shim "
                         "(Docker) per container; manager: `reconcile run` vs dockerd + "
                         "containerd; total_pss: manager + all per-container processes.")
    lines += plain_table(results, "restart.", "Restart after kill -9, and watch", plots,
                         problems, "From bench/bench_restart.py (kill -9 of the container's "
                         "process until it runs again; a stack file edit under `run --watch` "
                         "until the replacement runs).")
    lines += plain_table(results, "pull.", "Image pull and unpack", plots, problems,
                         "From bench/bench_pull.py: a ~100 MB image from a local "
                         "docker-registry on 127.0.0.1, pulled and unpacked; N is the image "
                         "size in MiB. skopeo only transfers (no unpack).")
    lines += plain_table(results, "push.", "Image push", plots, problems,
                         "From bench/suite_push.py: the same ~100 MB image pushed to a fresh "
                         "repository of an emptied docker-registry on 127.0.0.1 (no existence "
                         "check or mount can skip a layer); N is the image size in MiB. "
                         "docker push recompresses its layers; reconcile and skopeo send the "
                         "stored blobs.")
    lines += plain_table(results, "network.", "Networking", plots, problems,
                         "From bench/bench_network.py: create/remove = time with networking "
                         "minus time with `network: none` (paired by repetition); raw_* are "
                         "the four timings; reconcile-netmanager is reconcile's "
                         "NetworkManager alone (no container processes).")
    lines += plain_table(results, "compose.", "Compose file: load, normalize, plan", plots,
                         problems, "From bench/suite_compose.py: `reconcile plan FILE` of a "
                         "500-service Compose file (native driver, a new empty state dir "
                         "each run) vs Compose v2 `config --format json` of the same file; "
                         "plan = wall time, plan_cpu = user + system CPU time. "
                         + compose_target(results))
    lines += plain_table(results, "build.", "Dockerfile builds", plots, problems,
                         "From bench/suite_build.py: `reconcile images build` vs `docker "
                         "build` (legacy builder) of the same Dockerfile (WORKDIR, 2 COPY, "
                         "2 RUN, ENV, USER, CMD) and context of N files; cold = --no-cache, "
                         "nochange = a rebuild from the cache, onefile = one source file "
                         "changed (its COPY and the RUN after it run again). Target: "
                         "nochange at most 0.5x docker's.")
    lines += not_run_section(results, data.get("suites", {}))
    lines += profile_section(data.get("profile", {}))
    lines += [METHOD]
    return "\n".join(lines)
