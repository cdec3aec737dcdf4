"""Monitor designs side by side (issue 14): launch time and PSS per monitor for N containers.

Each design starts N busybox containers (`sleep 3600`, one shared read-only rootfs, no
network) from prepared bundles, one after the other, and each container's monitor holds
its stdio; then the monitors' PSS (/proc/PID/smaps_rollup) is read:

- exec: a fresh `python -I -S monitor.py` per container (the design before issue 14);
- zygote: the monitor forked by the long-lived zygote (container/zygote.py, launcher.py);
- conmon: Podman's C monitor (`conmon --api-version 1`, its sync pipe, k8s-file logs);
- runc-run: `runc run -d` with no monitor at all, the floor.

Every design then `runc start`s (runc-run does not need to). The zygote's own PSS is
reported separately and counted, divided by N, in `per_container_amortized`.

    .venv/bin/python bench/bench_monitor.py [--n 50] [--designs exec zygote conmon runc-run]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from bench import common
from bench.common import COMMAND, RUNC

MONITOR = common.ROOT / "reconciler/drivers/native/container/monitor.py"
CONMON = shutil.which("conmon")
DESIGNS = ("exec", "zygote", "conmon", "runc-run")


class Rig:
    """N container folders (bundle/config.json) for one design, under one runc root."""

    def __init__(self, work: Path, rootfs: Path, design: str, n: int) -> None:
        self.work, self.design = work / design, design
        self.root = self.work / "runc"
        self.names = [f"bm-{design}-{i}" for i in range(n)]
        self.state = self.work / "state"
        for name in self.names:
            bundle = self.state / "containers" / name / "bundle"
            bundle.mkdir(parents=True)
            common.run([RUNC, "spec"], cwd=bundle)
            config = json.loads((bundle / "config.json").read_text())
            config["process"].update(terminal=False, args=COMMAND)
            config["root"] = {"path": str(rootfs), "readonly": True}
            config["linux"]["cgroupsPath"] = f"/reconcile-bench-monitor/{name}"
            (bundle / "config.json").write_text(json.dumps(config))

    def folder(self, name: str) -> Path:
        return self.state / "containers" / name

    def runc(self, *args: str) -> None:
        common.run([RUNC, "--root", str(self.root), *args], stderr=subprocess.DEVNULL)

    def cleanup(self) -> None:
        for name in self.names:
            subprocess.run([RUNC, "--root", str(self.root), "delete", "-f", name],
                           capture_output=True, check=False)
        time.sleep(1.0)  # the monitors record the exits and go


def launch_exec(rig: Rig, name: str) -> None:
    folder = rig.folder(name)
    common.run([sys.executable, "-I", "-S", str(MONITOR), str(folder), RUNC, str(rig.root),
                name])
    rig.runc("start", name)


def launch_zygote(rig: Rig, name: str, launcher: Any) -> None:
    launcher.launch([str(rig.folder(name)), RUNC, str(rig.root), name])
    rig.runc("start", name)


def launch_conmon(rig: Rig, name: str) -> None:
    folder = rig.folder(name)
    sync_r, sync_w = os.pipe()
    argv = [str(CONMON), "--api-version", "1", "-c", name, "-u", name, "-n", name,
            "-r", RUNC, "--runtime-arg", "--root", "--runtime-arg", str(rig.root),
            "-b", str(folder / "bundle"), "-p", str(folder / "container.pid"),
            "-P", str(folder / "monitor.pid"), "-l", f"k8s-file:{folder / 'ctr.log'}",
            "--log-size-max", str(10 * 1024 * 1024), "--exit-dir", str(folder),
            "--persist-dir", str(folder), "--socket-dir-path", str(folder),
            "--log-level", "error"]
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "_OCI_SYNCPIPE": str(sync_w)}
    proc = subprocess.Popen(argv, env=env, pass_fds=(sync_w,), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(sync_w)
    with os.fdopen(sync_r, "rb") as sync:
        reply = sync.readline()  # {"data": pid}; conmon keeps the pipe for later messages
    proc.wait(timeout=30)
    message = json.loads(reply.splitlines()[0]) if reply else {}
    if int(message.get("data", -1)) <= 0:
        raise RuntimeError(f"conmon: {reply!r} {proc.stderr.read() if proc.stderr else ''}")
    rig.runc("start", name)


def launch_runc_run(rig: Rig, name: str) -> None:
    folder = rig.folder(name)
    common.run([RUNC, "--root", str(rig.root), "run", "-d", "--pid-file",
                str(folder / "container.pid"), "--bundle", str(folder / "bundle"), name],
               stderr=subprocess.DEVNULL)


def monitor_pids(rig: Rig) -> list[int]:
    pids = []
    for name in rig.names:
        pid_file = rig.folder(name) / "monitor.pid"
        if pid_file.exists():
            pids.append(int(pid_file.read_text().strip()))
    return pids


def measure_design(design: str, n: int, work: Path, rootfs: Path) -> dict[str, Any]:
    rig = Rig(work, rootfs, design, n)
    launcher = None
    if design == "zygote":
        from reconciler.drivers.native.container.launcher import Launcher

        launcher = Launcher(f"bench{os.getpid()}", rig.work / "monitor.lock",
                            rig.work / "zygote.err")
    launch = {"exec": launch_exec, "conmon": launch_conmon, "runc-run": launch_runc_run,
              "zygote": lambda r, name: launch_zygote(r, name, launcher)}[design]
    try:
        began = time.monotonic()
        for name in rig.names:
            launch(rig, name)
        seconds = time.monotonic() - began
        time.sleep(2.0)  # let allocations settle, as the memory suite does
        pids = monitor_pids(rig)
        sizes = [common.rss_kib(pid) for pid in pids]
        private = sorted(_private_kib(pid) for pid in pids)
        row: dict[str, Any] = {"design": design, "n": n, "launch_seconds": round(seconds, 3),
                               "per_launch_ms": round(seconds / n * 1000, 1)}
        if sizes:
            pss = sorted(p for _, p in sizes)
            row.update(monitors=len(sizes), pss_kib_median=pss[len(pss) // 2],
                       pss_kib_min=pss[0], pss_kib_p10=pss[len(pss) // 10],
                       pss_kib_p90=pss[len(pss) * 9 // 10],
                       pss_kib_max=pss[-1], rss_kib_median=sorted(r for r, _ in sizes)
                       [len(sizes) // 2], pss_kib_total=sum(pss),
                       private_kib_median=private[len(private) // 2])
        if design == "zygote":
            parents = _zygote_pids(monitor_pids(rig))
            if parents:
                row["zygote_pids_pss_kib"] = [common.rss_kib(pid)[1] for pid in parents]
                row["zygote_pss_kib"] = sum(row["zygote_pids_pss_kib"])
                row["per_container_amortized_kib"] = round(
                    (row["pss_kib_total"] + row["zygote_pss_kib"]) / n, 1)
        return row
    finally:
        rig.cleanup()


def _private_kib(pid: int) -> int:
    """Private_Clean + Private_Dirty: what this process alone holds (its PSS floor)."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total


def _zygote_pids(monitors: list[int]) -> list[int]:
    """The monitors' parent (the template, or an older zygote itself), then the serving
    zygote above the template if there is one: both are the monitors' fixed cost."""
    if not monitors:
        return []
    pids = [_parent(monitors[0])]
    above = _parent(pids[0])
    if above > 1 and Path(f"/proc/{above}/comm").read_text().strip() == "reconcile-zyg":
        pids.append(above)
    return [pid for pid in pids if pid > 1]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    common.require_root()
    rows = []
    with common.workdir("rbmon-") as work:
        rootfs = common.extract_rootfs(common.make_image(work / "busybox"), work / "rootfs")
        for design in args.designs:
            if design == "conmon" and CONMON is None:
                rows.append({"design": design, "not_run": "conmon not installed"})
                continue
            print(f"  monitor design {design} n={args.n}", flush=True)
            rows.append(measure_design(design, args.n, work, rootfs))
            print("   ", rows[-1], flush=True)
    for controller in Path("/sys/fs/cgroup").iterdir():
        parent = controller / "reconcile-bench-monitor"
        if parent.is_dir():
            with contextlib.suppress(OSError):
                parent.rmdir()
    doc = {"label": "monitor-designs", "host": common.host_facts(), "results": rows}
    if args.json:
        common.write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
