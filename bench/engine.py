"""A private Docker engine for the benchmarks: dockerd (and the containerd it manages)
with its own data-root, exec-root, socket and pidfile under one temp dir, so it never
touches a system engine and leaves nothing behind.

    with engine(Path(DIR)) as docker_host: ...     (from Python)
    engine.py args|wait|stop DIR                    (from scripts/bench.sh, see main)

Network choice: `--bridge=none --iptables=false --ip6tables=false --ip-masq=false` and the
benchmark's containers use `network_mode: none`. Docker thus creates no docker0, no veth and
no iptables rule, and the comparison is with reconcile's loopback-only containers (a stack
with no ports and no network). `suite_converge.py --network stack` makes user-defined
bridges on it all the same (no NAT rules).

`networking=True` (bench/bench_network.py only) turns Docker's networking on
(`--iptables=true --ip-masq=true`, still no docker0: compose makes its project bridge).
A dockerd changes the host and never undoes it (a network still defined when it stops keeps
its bridge), so prepare() records the host's networking first (bench/hostnet.py), for every
engine, and stop() deletes what is new once dockerd is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import hostnet
from bench.common import DOCKER

TRUST_KEY = Path("/etc/docker/key.json")  # Docker 20.10 writes it whatever data-root says


def docker_host(base: Path) -> str:
    return f"unix://{base}/docker.sock"


def _dockerd_args(base: Path, networking: bool) -> list[str]:
    (base / "daemon.json").write_text("{}\n")  # ignore any /etc/docker/daemon.json
    network = (["--iptables=true", "--ip-masq=true"] if networking
               else ["--iptables=false", "--ip-masq=false"])
    return [
        "dockerd", "--config-file", str(base / "daemon.json"),
        "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
        "--pidfile", str(base / "dockerd.pid"), "-H", docker_host(base),
        "--bridge=none", *network, "--ip6tables=false",
        # published ports by NAT rules alone, as reconcile does (no docker-proxy processes)
        "--userland-proxy=false", "--log-level=warn",
        # its own cgroup parent (default "docker"), removed by stop()
        f"--cgroup-parent={cgroup_parent(base)}",
    ]


def cgroup_parent(base: Path) -> str:
    return f"reconcile-bench-{base.name}"


def _remove_cgroups(base: Path) -> None:
    """The cgroup parent dockerd made in every hierarchy (empty once containers are gone)."""
    for parent in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent(base)}"):
        with suppress(OSError):
            parent.rmdir()
    unified = Path("/sys/fs/cgroup") / cgroup_parent(base)
    if unified.is_dir():
        with suppress(OSError):
            unified.rmdir()


def prepare(base: Path, networking: bool = False) -> list[str]:
    """Makes DIR ready for a dockerd and returns its command line."""
    base.mkdir(parents=True, exist_ok=True)
    marker = {"trust_key_existed": TRUST_KEY.exists()}
    (base / "engine.json").write_text(json.dumps(marker))
    (base / "hostnet.json").write_text(json.dumps(hostnet.snapshot()))
    return _dockerd_args(base, networking)


def wait_ready(base: Path, proc: subprocess.Popen[bytes] | None = None,
               timeout: float = 60.0) -> str:
    host = docker_host(base)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"dockerd exited {proc.returncode}")
        ping = subprocess.run([DOCKER, "-H", host, "version"], capture_output=True, check=False)
        if ping.returncode == 0:
            return host
        time.sleep(0.3)
    raise RuntimeError("dockerd did not answer within the timeout")


@contextmanager
def engine(base: Path, networking: bool = False) -> Iterator[str]:
    """dockerd as a child of this process (so it is reaped), stopped on the way out."""
    args = prepare(base, networking)
    with (base / "dockerd.log").open("w") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    (base / "dockerd.launched").write_text(str(proc.pid))
    try:
        yield wait_ready(base, proc)
    finally:
        stop(base)
        proc.wait()


def _dockerd_pid(base: Path) -> int | None:
    for name in ("dockerd.pid", "dockerd.launched"):
        path = base / name
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[1].split()[0] != "Z"


def _remove_containers(host: str) -> None:
    listed = subprocess.run([DOCKER, "-H", host, "ps", "-aq"], capture_output=True,
                            text=True, timeout=30, check=False)
    ids = listed.stdout.split()
    if listed.returncode == 0 and ids:
        subprocess.run([DOCKER, "-H", host, "rm", "-f", *ids], capture_output=True,
                       timeout=300, check=False)


def _unmount_under(base: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(str(base))), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def stop(base: Path) -> None:
    """Stops everything `start` made; safe to call twice, or after a failed start."""
    if not base.exists():
        return
    pid = _dockerd_pid(base)
    if pid is not None and _alive(pid):
        with suppress(subprocess.TimeoutExpired):
            _remove_containers(docker_host(base))
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    _kill_leftover_children(base)
    _unmount_under(base)
    _remove_cgroups(base)
    if (base / "hostnet.json").exists():  # after dockerd: it re-adds its rules while alive
        hostnet.undo(json.loads((base / "hostnet.json").read_text()))
    marker = base / "engine.json"
    if marker.exists() and not json.loads(marker.read_text())["trust_key_existed"]:
        TRUST_KEY.unlink(missing_ok=True)
        if TRUST_KEY.parent.is_dir() and not any(TRUST_KEY.parent.iterdir()):
            TRUST_KEY.parent.rmdir()
    subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)


def stack_cpu(host: str) -> float:
    """CPU seconds the private engine at `host` has used so far: dockerd, its containerd and
    the live shims, each with the children it reaped (a shim reaps its runc calls). A shim
    belongs to PID 1 once started, so one that exits takes its count with it: a difference
    means the engine's work only over a span in which no shim exits (a cold apply, a no-op;
    not a teardown)."""
    base = str(Path(host.removeprefix("unix://")).parent)
    ticks = 0
    for pid in _engine_processes(base):
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _engine_processes(base: str) -> Iterator[int]:
    """The pids of dockerd, containerd, the shims and runc calls whose command line names
    `base` (the engine's dirs)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if comm.startswith(("containerd", "dockerd", "runc")) and base in cmdline:
            yield int(entry.name)


def _kill_leftover_children(base: Path) -> None:
    """containerd or shims whose command line names our dirs (after a dockerd crash)."""
    for pid in _engine_processes(str(base)):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def main() -> int:
    """For scripts/bench.sh, which runs dockerd as its own child (it reaps it, and its trap
    stops it): `args DIR` prints dockerd's command line, one word a line; `wait DIR` waits
    until it answers; `stop DIR` removes everything."""
    if len(sys.argv) != 3 or sys.argv[1] not in ("args", "wait", "stop"):
        sys.exit(__doc__)
    base = Path(sys.argv[2])
    if sys.argv[1] == "args":
        print("\n".join(prepare(base)))
    elif sys.argv[1] == "wait":
        print(wait_ready(base))
    else:
        stop(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
