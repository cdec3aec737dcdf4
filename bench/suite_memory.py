"""Memory, side by side, for the same busybox containers (`sleep 3600`, no network):

- per container: each native monitor (reconciler/drivers/native/monitor.py) against each
  containerd-shim-runc-v2 that Docker keeps per container;
- the resident manager: `reconcile run` (the control loop) against dockerd + containerd,
  with 0, 50 and 200 containers.

RSS counts shared pages in full for every process (many monitors share one interpreter's
pages); PSS splits them among the sharers, so the PSS sum is what N of them really cost.
The Docker side uses a private dockerd started for this suite (so its memory is not that
of an engine that has served other suites), `--bridge=none`, `network_mode: none`.

Alone: .venv/bin/python bench/suite_memory.py [--n 0 50 200 500] [--json OUT]
(Docker's side up to N=200 only: DOCKER_MAX_N.)
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.common import COMPOSE, DOCKER, RECONCILE, Result
from bench.suite_converge import write_compose, write_stack

DOCKER_MAX_N = 200  # above: reconcile only (bounded runtime; the 0.5x target is at 200)
SETTLE = 3.0  # seconds after convergence before reading memory: let allocations settle
Samples = dict[tuple[str, int, str], list[float]]


def _mib(kib: int) -> float:
    return round(kib / 1024, 2)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _pids_whose_cmdline_has(comm_prefix: str, text: str) -> list[int]:
    found = []
    for pid in common.pids_named(comm_prefix):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(pid)
    return found


def _wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


class LoopSide:
    """`reconcile run --watch DIR` converging a stack of n containers."""

    def __init__(self, work: Path, image: Path) -> None:
        self.work, self.image = work, image
        self.state = work / "state"
        self.base = [RECONCILE, "--state-dir", str(self.state)]

    def _running(self, n: int) -> bool:
        started = list((self.state / "containers").glob("bench-*/started.json"))
        return len(started) >= n

    def measure(self, n: int, samples: Samples) -> None:
        watch = self.work / f"watch-{n}"
        watch.mkdir()
        if n:
            write_stack(watch / "bench.yaml", self.image, n)
        log = (self.work / f"loop-{n}.log").open("w")
        loop = subprocess.Popen([*self.base, "run", "--watch", str(watch)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_until(lambda: self._running(n) or loop.poll() is not None, 600,
                        f"reconcile run to start {n} containers")
            if loop.poll() is not None:
                raise RuntimeError(f"reconcile run exited {loop.returncode}")
            time.sleep(SETTLE)
            rss, pss = common.rss_kib(loop.pid)
            samples[("memory.manager_rss", n, "reconcile-run")] = [_mib(rss)]
            samples[("memory.manager_pss", n, "reconcile-run")] = [_mib(pss)]
            monitors = [int(p.read_text()) for p in
                        (self.state / "containers").glob("bench-*/monitor.pid")]
            parents = {_parent(m) for m in monitors} - {1}  # the template (or an old zygote)
            zygotes = parents | {z for z in map(_parent, parents) if _comm(z) == "reconcile-zyg"}
            # The zygote and its template that forked the monitors are part of their cost:
            # in the total.
            zygote_pss = sum(_mib(common.rss_kib(z)[1]) for z in zygotes)
            if zygotes:
                samples[("memory.zygote_pss", n, "reconcile-zygote")] = [zygote_pss]
            _per_container(samples, n, "reconcile-monitor", monitors, _mib(pss) + zygote_pss)
        finally:
            loop.send_signal(signal.SIGTERM)
            loop.wait(timeout=60)
            log.close()
            if n:
                common.run([*self.base, "down", "bench"])


class DockerSide:
    """docker-compose up of the same containers on a fresh private dockerd."""

    def __init__(self, work: Path, image: Path, host: str) -> None:
        self.work = work
        self.env = common.compose_env(host)
        # 200 containers on a loaded 2-core host: docker-compose's 60 s default per request
        # was seen to time out (dockerd busy, not hung).
        self.env["COMPOSE_HTTP_TIMEOUT"] = "600"
        self.socket = host.removeprefix("unix://")
        self.exec_root = str(Path(self.socket).parent / "exec")
        archive = common.docker_archive(image, work / "busybox-docker.tar")
        common.run([DOCKER, "load", "-i", str(archive)], env=self.env)

    def _daemons(self) -> list[int]:
        dockerd = _pids_whose_cmdline_has("dockerd", self.socket)
        return dockerd + [c for d in dockerd for c in _children(d)
                          if Path(f"/proc/{c}/comm").read_text().startswith("containerd")]

    def measure(self, n: int, samples: Samples) -> None:
        project = self.work / f"compose-{n}"
        project.mkdir()
        write_compose(project / "docker-compose.yml", n)
        cmd = [COMPOSE, "-p", "rbmem", "-f", str(project / "docker-compose.yml")]
        try:
            if n:
                common.run([*cmd, "up", "-d"], env=self.env)
            time.sleep(SETTLE)
            daemons = [common.rss_kib(pid) for pid in self._daemons()]
            tool = "dockerd+containerd"
            samples[("memory.manager_rss", n, tool)] = [_mib(sum(r for r, _ in daemons))]
            samples[("memory.manager_pss", n, tool)] = [_mib(sum(p for _, p in daemons))]
            shims = _pids_whose_cmdline_has("containerd-shim", self.exec_root)
            _per_container(samples, n, "containerd-shim", shims,
                           _mib(sum(p for _, p in daemons)))
        finally:
            if n:
                common.run([*cmd, "down"], env=self.env)


def _per_container(samples: Samples, n: int, tool: str, pids: list[int],
                   manager_pss: float) -> None:
    if n and len(pids) != n:
        raise RuntimeError(f"{tool}: found {len(pids)} processes for {n} containers")
    sizes = [common.rss_kib(pid) for pid in pids]
    if sizes:
        samples[("memory.per_container_rss", n, tool)] = [_mib(r) for r, _ in sizes]
        samples[("memory.per_container_pss", n, tool)] = [_mib(p) for _, p in sizes]
    total_pss = manager_pss + sum(_mib(p) for _, p in sizes)
    samples[("memory.total_pss", n, tool.replace("monitor", "run+monitors")
             .replace("containerd-shim", "docker+shims"))] = [round(total_pss, 2)]


def measure(ns: list[int], work: Path) -> list[Result]:
    image = common.make_image(work / "busybox")
    samples: Samples = {}
    (work / "loop").mkdir()
    loop_side = LoopSide(work / "loop", image)
    for n in ns:
        print(f"  memory n={n} reconcile run", flush=True)
        loop_side.measure(n, samples)
    results = common.collect(samples, unit="MiB")
    why_not = common.docker_missing()
    if why_not is None:
        with common.workdir("rbm-") as base:
            from bench.engine import engine

            with engine(base / "e") as host:
                (work / "docker").mkdir()
                docker_side = DockerSide(work / "docker", image, host)
                docker_samples: Samples = {}
                for n in ns:
                    if n > DOCKER_MAX_N:
                        results.append(common.not_run(
                            "memory.total_pss", n, "docker+shims",
                            f"not run above N={DOCKER_MAX_N}: bounded runtime"))
                        continue
                    print(f"  memory n={n} docker-compose", flush=True)
                    try:
                        docker_side.measure(n, docker_samples)
                    except (RuntimeError, subprocess.SubprocessError) as e:  # keep ours
                        results.append(common.not_run("memory.total_pss", n, "docker+shims",
                                                      f"failed: {str(e)[-300:]}"))
                results += common.collect(docker_samples, unit="MiB")
    else:
        for n in ns:
            results.append(common.not_run("memory.manager_rss", n, "dockerd+containerd",
                                          why_not))
    return results


def summary(results: list[Result]) -> str:
    rows = [r for r in results if "median" in r and "per_container" in r["metric"]]
    return "\n".join(f"{r['metric']} n={r['n']} {r['tool']}: median "
                     f"{statistics.median(r['samples']):.2f} MiB" for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[0, 50, 200, 500])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    common.require_root()
    with common.workdir() as work:
        results = measure(args.n, work)
    for row in results:
        print(common.describe(row))
    if args.json:
        common.write_json(args.json, {"host": common.host_facts(), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
