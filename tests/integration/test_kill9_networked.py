"""`kill -9` of `apply` (and of `down`) at 30 random points on a 6-container stack with
networking, then `apply`: converged, no duplicates, and nothing leaked. Every kind of host
object is counted before and after: runc containers, monitors, mounts, cgroups, veths,
bridges, nft rules."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.container import zygote
from reconciler.drivers.native.driver import NativeDriver
from reconciler.drivers.native.network import links
from tests.integration.native_helpers import REPO, forked_by_zygote, require_host
from tests.netutil import free_port

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]
KEYS = ("db", "cache", "api", "web", "worker", "edge")
ROUNDS = 30


def stack_text(name: str, image: Path) -> str:
    serve = "trap 'exit 0' TERM; while true; do echo ok | nc -l -p 80 >/dev/null; done"
    lines = [f"version: 1\nname: {name}\nimages:\n  bb: {{oci: {image}}}\ncontainers:"]
    for key in KEYS:
        lines.append(f"  {key}:\n    image: bb\n    command: [\"sh\", \"-c\", \"{serve}\"]\n"
                     "    stop_signal: SIGKILL")
    lines.append(f"    ports: [\"127.0.0.1:{free_port()}:80\"]")  # edge
    lines.insert(3, f"    ports: [\"127.0.0.1:{free_port()}:80/tcp\"]\n    depends_on: [db]")
    return "\n".join(lines) + "\n"


class Host:
    def __init__(self, tmp: Path, name: str) -> None:
        self.state, self.name = tmp / "state", name
        self.stack = tmp / "stack.yaml"
        self.driver = NativeDriver(self.state)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*RECONCILE, "--state-dir", str(self.state), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=180)

    def interrupt(self, rng: random.Random, *args: str) -> None:
        proc = subprocess.Popen([*RECONCILE, "--state-dir", str(self.state), *args], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.02, 1.5))
        proc.kill()
        proc.wait()

    def counts(self) -> dict[str, int]:
        names = {f"{self.name}-{k}" for k in KEYS}
        runc_root = self.state / "runc"
        listed = subprocess.run(["runc", "--root", str(runc_root), "list", "-q"],
                                capture_output=True, text=True).stdout.split()
        monitors = forked_by_zygote(self.state, zygote.MONITOR_NAME)
        with open("/proc/mounts", encoding="utf-8") as f:
            mounts = [line.split() for line in f if str(self.state) in line.split()[1]]
        cgroups = [d for n in names for d in self.driver.cgroups.existing_dirs(n)]
        net = self.driver.network
        present = set(links.links())
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True,
                                 check=True).stdout
        net_id = net.net_id(self.name)
        return {
            "runc": len(listed), "monitors": len(monitors),
            "zygotes": len(forked_by_zygote(self.state, zygote.ZYGOTE_NAME)),
            "templates": len(forked_by_zygote(self.state, zygote.TEMPLATE_NAME)),
            "rootfs mounts": sum(1 for m in mounts if m[2] == "overlay"),
            "netns mounts": sum(1 for m in mounts if m[2] == "nsfs"),
            "other mounts": sum(1 for m in mounts if m[2] not in ("overlay", "nsfs")),
            "cgroups": len(cgroups), "veths": len({net.veth(n) for n in names} & present),
            "bridges": int(net.bridge(self.name) in present),
            "nft rules": sum(1 for line in ruleset.splitlines() if net_id in line),
        }


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    require_host()
    image = tmp_path / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    h = Host(tmp_path, f"k9{random.randrange(10**6)}")
    h.stack.write_text(stack_text(h.name, image))
    yield h
    h.cli("down", h.name, "--volumes")
    retired(h)


def test_kill_9_at_30_points_then_apply_and_down_converge(host: Host) -> None:
    empty = host.counts()
    assert not any(empty.values())
    rng = random.Random(1130)
    for round_ in range(ROUNDS):
        host.interrupt(rng, "apply", str(host.stack))
        if round_ % 3 == 2:
            host.interrupt(rng, "down", host.name)  # interrupted downs too
    done = host.cli("apply", str(host.stack))
    assert done.returncode == 0, done.stderr
    again = host.cli("apply", str(host.stack))
    assert again.returncode == 0 and "Nothing to do" in again.stdout
    rows = json.loads(host.cli("ps", "-o", "json", host.name).stdout)
    assert sorted(r["name"] for r in rows) == sorted(f"{host.name}-{k}" for k in KEYS)
    states = {r["name"]: (r["state"], r["exit_code"]) for r in rows}
    assert all(state == "running" for state, _ in states.values()), states
    counts = host.counts()
    cgroups_each = counts["cgroups"] // len(KEYS)
    assert counts == {"runc": 6, "monitors": 6, "zygotes": 1, "templates": 1,
                      "rootfs mounts": 6, "netns mounts": 6,
                      "other mounts": 0, "cgroups": 6 * cgroups_each,
                      "veths": 6, "bridges": 1, "nft rules": counts["nft rules"]}
    assert cgroups_each >= 1 and counts["nft rules"] > 0
    for _ in range(3):
        host.interrupt(rng, "down", host.name)
    down = host.cli("down", host.name)
    assert down.returncode == 0, down.stderr
    retired(host)


def retired(host: Host) -> None:
    """Nothing left; the zygote goes IDLE seconds after its last monitor."""
    deadline = time.monotonic() + zygote.IDLE + 10
    while any(host.counts().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(host.counts().values()), host.counts()
