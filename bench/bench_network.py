"""Time to create and remove the networking of N containers: reconcile (native driver)
against docker-compose on a dockerd with its networking on, in the same run.

What each side sets up is the same: one bridge for the stack / compose project, per
container a veth with an address on it and one published port (42000+i -> 80/tcp, NAT
rules only: dockerd runs with `--userland-proxy=false`, so no docker-proxy process).

Method (difference of two full runs, the same on both sides): Docker's networking cannot be
timed apart from its containers, so each side is timed bringing N `sleep` containers up
and down twice per repetition, once with networking (reconcile: the default private
network + `ports`; compose: the project network + `ports`) and once without (`network:
none` / `network_mode: none`). Networking create = up(with) - up(without), remove =
down(with) - down(without), paired within a repetition; the row is the median over the
repetitions, and the ratio is reconcile / docker-compose of those medians. The tools take
turns inside each repetition. For reference, `reconcile-netmanager` times reconcile's
NetworkManager alone (setup/teardown of N containers, no process, no apply).

Docker: a second private dockerd (bench/engine.py, `networking=True`: `--iptables=true
--ip-masq=true --bridge=none --ip6tables=false`; the image is loaded from a local
docker-archive, no pull). It changes the host and never undoes it: engine.stop() deletes the
nft tables/chains/rules, links and sysctl changes that appeared (bench/hostnet.py), and this
bench then checks that nothing is left (`leftovers` in the JSON; exit 1 if any).

    .venv/bin/python bench/bench_network.py [--n 50] [--repeat 3] [--out FILE]

Writes bench/results/network-<date>.json (or FILE): {"results": [rows as common.py's],
"ratios": {...}, "leftovers": [...], ...}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, hostnet, suite_converge
from bench.common import COMMAND, IMAGE_TAG, ROOT, Result
from bench.engine import cgroup_parent, engine
from reconciler.drivers.native.network.manager import NetworkManager
from reconciler.model.desired import ContainerSpec, ImageSource, PortMapping

BASE_PORT = 42000
STACK = "benchnet"
RECONCILE, DOCKER, DIRECT = "reconcile-native", "docker-compose", "reconcile-netmanager"


def write_stack(path: Path, image: Path, n: int, networked: bool) -> None:
    lines = ["version: 1", f"name: {STACK}", "images:", f"  bb: {{oci: {image}}}",
             "containers:"]
    for i in range(n):
        net = f'    ports: ["{BASE_PORT + i}:80"]' if networked else "    network: none"
        lines += [f"  c{i:03d}:", "    image: bb", f"    command: {json.dumps(COMMAND)}",
                  net, "    stop_signal: SIGKILL"]
    path.write_text("\n".join(lines) + "\n")


def write_compose(path: Path, n: int, networked: bool) -> None:
    lines = ['version: "2.4"', "services:"]
    for i in range(n):
        net = f'    ports: ["{BASE_PORT + i}:80"]' if networked else "    network_mode: none"
        lines += [f"  c{i:03d}:", f"    image: {IMAGE_TAG}", f"    command: {json.dumps(COMMAND)}",
                  net, "    stop_signal: SIGKILL", "    stop_grace_period: 0s"]
    path.write_text("\n".join(lines) + "\n")


class ReconcileSide(suite_converge.Reconcile):
    def up_down(self, n: int, networked: bool) -> tuple[float, float]:
        stack = self.work / f"{STACK}-{int(networked)}.yaml"
        write_stack(stack, self.image, n, networked)
        try:
            up = common.timed([*self.base, "apply", str(stack)])
        finally:
            down = common.timed([*self.base, "down", STACK])
        return up, down


class ComposeSide(suite_converge.Compose):
    def up_down(self, n: int, networked: bool) -> tuple[float, float]:
        project = self.work / f"net-{int(networked)}"
        project.mkdir(exist_ok=True)
        write_compose(project / "docker-compose.yml", n, networked)
        cmd = [common.COMPOSE, "-p", STACK, "-f", str(project / "docker-compose.yml")]
        limit = 60 + 3 * n  # compose 1.29 can hang (see suite_converge)
        try:
            up = common.timed([*cmd, "up", "-d"], env=self.env, timeout=limit)
        finally:
            down = common.timed([*cmd, "down"], env=self.env, timeout=limit)
        return up, down


def netmanager_round(n: int) -> tuple[float, float]:
    """reconcile's NetworkManager alone: netns, veth, bridge, leases, nft rules."""
    image = ImageSource(key="none", kind="oci", identity="none")
    specs = [ContainerSpec(stack="benchnm", key=f"c{i}", name=f"benchnm-c{i}", replica=1,
                           image=image, ports=(PortMapping(BASE_PORT + i, 80),))
             for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="reconcile-benchnet-") as tmp:
        containers = Path(tmp) / "containers"
        manager = NetworkManager(Path(tmp), containers)
        for spec in specs:  # setup counts a container as a member once its dir exists
            (containers / spec.name).mkdir(parents=True)
        created = common.timed_call(lambda: [manager.setup(spec) for spec in specs])
        began = time.perf_counter()
        for spec in reversed(specs):
            (containers / spec.name).rmdir()
            manager.teardown(spec.name)
        return created, time.perf_counter() - began


def _rows(tool: str, n: int, raw: dict[str, list[float]]) -> list[Result]:
    """The networking rows (paired differences) and the four raw timings of one tool."""
    rows = [common.result(f"network.raw_{key}", n, tool, values) for key, values in raw.items()]
    for what, verb in (("create", "up"), ("remove", "down")):
        diffs = [a - b for a, b in zip(raw[f"{verb}_net"], raw[f"{verb}_none"], strict=True)]
        rows.insert(0, common.result(f"network.{what}", n, tool, diffs))
    return rows


def _rounds(side: Any, n: int, raw: dict[str, list[float]], name: str, rep: int) -> None:
    for networked in (True, False):
        print(f"  network n={n} rep={rep} {name} {'net' if networked else 'none'}", flush=True)
        up, down = side.up_down(n, networked)
        key = "net" if networked else "none"
        raw.setdefault(f"up_{key}", []).append(up)
        raw.setdefault(f"down_{key}", []).append(down)


def _try_rounds(compose: ComposeSide, n: int, raw: dict[str, list[float]], rep: int
                ) -> str | None:
    """None, or why docker-compose failed (compose 1.29 can hang): reported as not run."""
    try:
        _rounds(compose, n, raw, DOCKER, rep)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"  network n={n} {DOCKER} failed: {error}", flush=True)
        return f"failed: {str(error)[:300]}"
    return None


def measure(n: int, repeat: int, work: Path) -> tuple[list[Result], list[str]]:
    """The result rows and what was left on the host afterwards (should be nothing)."""
    image = common.make_image(work / "busybox")
    before = hostnet.snapshot()
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    direct = [netmanager_round(n) for _ in range(repeat)]
    (work / "reconcile").mkdir()
    reconcile = ReconcileSide(work / "reconcile", image)
    why_not = common.docker_missing()
    engine_left: list[str] = []
    if why_not:
        for rep in range(1, repeat + 1):
            _rounds(reconcile, n, ours, RECONCILE, rep)
    else:
        (work / "compose").mkdir()
        with common.workdir("rbn-") as base, engine(base, networking=True) as host:
            compose = ComposeSide(work / "compose", image, host)
            for rep in range(1, repeat + 1):
                _rounds(reconcile, n, ours, RECONCILE, rep)
                if why_not is None:
                    why_not = _try_rounds(compose, n, theirs, rep)
        engine_left = _engine_leftovers(base)  # after the engine stopped
    rows = _rows(RECONCILE, n, ours)
    rows += _rows(DOCKER, n, theirs) if theirs and not why_not else [
        common.not_run(m, n, DOCKER, why_not or "no result")
        for m in ("network.create", "network.remove")]
    rows += [common.result("network.create", n, DIRECT, [d[0] for d in direct]),
             common.result("network.remove", n, DIRECT, [d[1] for d in direct])]
    return rows, hostnet.leftovers(before) + engine_left


def _engine_leftovers(base: Path) -> list[str]:
    """Processes, mounts and cgroups of the stopped engine (engine.stop removes them)."""
    found = [f"process {pid}" for prefix in ("dockerd", "containerd", "runc")
             for pid in common.pids_named(prefix)
             if str(base) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
    found += [f"mount {line.split()[1]}" for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(str(base))]
    found += [f"cgroup {path}" for path in [
        *Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent(base)}"),
        Path("/sys/fs/cgroup") / cgroup_parent(base)] if path.exists()]
    found += [f"dir {base}"] if base.exists() else []
    return found


def ratios(rows: list[Result]) -> dict[str, float | None]:
    found = {(r["metric"], r["tool"]): r.get("median") for r in rows}
    out: dict[str, float | None] = {}
    for what in ("create", "remove"):
        ours, peer = found.get((f"network.{what}", RECONCILE)), found.get(
            (f"network.{what}", DOCKER))
        out[what] = ours / peer if ours is not None and peer else None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path,
                        default=ROOT / f"bench/results/network-{datetime.date.today()}.json")
    args = parser.parse_args()
    common.require_root()
    host = common.host_facts()  # before: it holds the load average at the start
    with common.workdir() as work:
        rows, left = measure(args.n, args.repeat, work)
    host["loadavg_at_end"] = list(os.getloadavg())
    doc: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "params": {"n": args.n, "repeat": args.repeat}, "host": host,
        "versions": common.peer_versions(), "results": rows, "ratios": ratios(rows),
        "leftovers": left}
    common.write_json(args.out, doc)
    for row in rows:
        print(common.describe(row))
    for what, value in doc["ratios"].items():
        shown = f"{value:.2f}x" if value is not None else "n/a"
        print(f"ratio reconcile/docker-compose, networking {what} of {args.n}: {shown}")
    print(f"left on the host: {left or 'nothing'}\nwritten {args.out}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
