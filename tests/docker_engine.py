"""A private dockerd for the docker driver's tests: its own data root, exec root, pidfile,
unix socket, config file and cgroup parent under one short temporary folder, so it never
meets a system engine, and everything it made is removed afterwards, also on failure.

    with docker_engine() as engine: engine.host     # DOCKER_HOST ("unix:///tmp/rdk-.../sock")

Networking is on (`--iptables=true`): the contract suite publishes ports and resolves
names on user-defined bridges. Such a dockerd adds nft rules and links and never removes
them, so the host's networking is recorded first (bench/hostnet.py) and what is new is
deleted once dockerd is gone. The userland proxy stays on: it is what answers on
127.0.0.1 for a published port (NAT alone does not reach loopback).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bench import hostnet
from reconciler.drivers.native.network import links
from tests import requirements

TRUST_KEY = Path("/etc/docker/key.json")  # dockerd 20.10 writes it whatever data-root says
DOCKER_CLI = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def require_dockerd() -> str:
    """dockerd's path; under CI=true its absence fails the test (tests/requirements.py)."""
    requirements.need_root("a private dockerd")
    found = shutil.which("dockerd")
    requirements.need(found, "dockerd is not installed (Debian package docker.io)")
    assert found is not None
    return found


def _args(dockerd: str, base: Path) -> list[str]:
    (base / "daemon.json").write_text("{}\n")  # ignore any /etc/docker/daemon.json
    return [
        dockerd, "--config-file", str(base / "daemon.json"),
        "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
        "--pidfile", str(base / "dockerd.pid"), "-H", f"unix://{base}/docker.sock",
        "--bridge=none", "--iptables=true", "--ip6tables=false", "--log-level=warn",
        f"--cgroup-parent={_cgroup_parent(base)}",
    ]  # fmt: skip


def _cgroup_parent(base: Path) -> str:
    return f"reconcile-test-{base.name}"


def _ping(host: str) -> bool:
    done = subprocess.run([DOCKER_CLI, "-H", host, "version"], capture_output=True, check=False)
    return done.returncode == 0


def _wait_ready(host: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited {proc.returncode}: {log.read_text()[-2000:]}")
        if _ping(host):
            return
        time.sleep(0.2)
    raise RuntimeError(f"dockerd did not answer within 60s: {log.read_text()[-2000:]}")


class PrivateEngine:
    """One dockerd under `base`; start() and stop_daemon() may repeat (an engine restart
    keeps its data root, so its containers survive it, stopped)."""

    def __init__(self, dockerd: str, base: Path) -> None:
        self.dockerd, self.base = dockerd, base
        self.host = f"unix://{base}/docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.base / "dockerd.log").open("a") as log:
            self.proc = subprocess.Popen(_args(self.dockerd, self.base), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_ready(self.host, self.proc, self.base / "dockerd.log")

    def stop_daemon(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def docker_engine(forwarding_first: bool = True) -> Iterator[PrivateEngine]:
    """A started PrivateEngine, removed with everything it made on the way out.
    `forwarding_first=False`: IPv4 forwarding off when dockerd starts, as on a host that
    booted so, where dockerd sets the FORWARD policy to drop (undo() restores both)."""
    dockerd = require_dockerd()
    base = Path(tempfile.mkdtemp(prefix="rdk-", dir="/tmp"))  # short: socket paths < 108
    trust_key_existed = TRUST_KEY.exists()
    before = hostnet.snapshot()
    engine = PrivateEngine(dockerd, base)
    try:
        _set_forwarding(forwarding_first)
        engine.start()
        yield engine
    finally:
        _stop(base, engine.host, engine.proc)
        hostnet.undo(before)  # after dockerd: it re-adds its rules while alive
        if not trust_key_existed:
            TRUST_KEY.unlink(missing_ok=True)
            with suppress(OSError):
                TRUST_KEY.parent.rmdir()
        subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)


def _set_forwarding(on: bool) -> None:
    """IPv4 forwarding before dockerd starts. On by default: a dockerd that turns it on
    itself also sets the `ip filter` FORWARD policy to drop, which the native driver's
    containers tested beside it then pass (its accepts in DOCKER-USER) only once their
    stack is set up after dockerd; on keeps the suite independent of that order, and
    tests/integration/test_native_beside_docker.py asks for the drop on purpose."""
    if on:
        links.enable_ip_forward()
    else:
        Path("/proc/sys/net/ipv4/ip_forward").write_text("0")


def _docker(host: str, *words: str) -> list[str]:
    done = subprocess.run([DOCKER_CLI, "-H", host, *words], capture_output=True, text=True,
                          timeout=120, check=False)
    return done.stdout.split() if done.returncode == 0 else []


def _stop(base: Path, host: str, proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        with suppress(subprocess.TimeoutExpired):
            ids = _docker(host, "ps", "-aq")
            if ids:
                _docker(host, "rm", "-f", "-v", *ids)
            _docker(host, "network", "prune", "-f")
            _docker(host, "volume", "prune", "-f")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _kill_leftovers(base)
    _unmount_under(base)
    _remove_cgroups(base)


def _kill_leftovers(base: Path) -> None:
    """containerd or shims whose command line names our folder (after a dockerd crash)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(base) in cmdline and entry.name != str(os.getpid()):
            with suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def _unmount_under(base: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(str(base))), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def _remove_cgroups(base: Path) -> None:
    """The cgroup parent dockerd made in every hierarchy, deepest first."""
    root = Path("/sys/fs/cgroup")
    for parent in [*root.glob(f"*/{_cgroup_parent(base)}"), root / _cgroup_parent(base)]:
        if not parent.is_dir():
            continue
        for child in sorted((p for p in parent.rglob("*") if p.is_dir()), reverse=True):
            with suppress(OSError):
                child.rmdir()
        with suppress(OSError):
            parent.rmdir()

