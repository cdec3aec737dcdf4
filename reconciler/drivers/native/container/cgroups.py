"""A container's cgroup: where it lives, what it uses, how to clean it up. v1 and v2.

runc creates the cgroup from config.json's cgroupsPath ("/reconcile/<instance>-<name>",
the instance naming the state directory, so that the same container name under two state
directories gets two cgroups): on v1 under every controller's hierarchy
(/sys/fs/cgroup/memory/reconcile/<instance>-<name>, ...), on v2 once
(/sys/fs/cgroup/reconcile/<instance>-<name>). The hierarchies are found from /proc/self/mountinfo,
so a host that mounts them elsewhere (or joins cpu,cpuacct) works too.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

from reconciler.drivers.base import ContainerStats
from reconciler.model.records import record
from reconciler.support import readlog

PARENT = "reconcile"
UNLIMITED = 1 << 62  # v1 reports "no limit" as a page-rounded LONG_MAX
_V1_CONTROLLERS = frozenset(
    {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
     "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"}
)  # fmt: skip


def instance_id(state_dir: Path) -> str:
    """8 hex digits naming a state directory in host-wide names (the network's use the same
    path): two state directories never share a cgroup."""
    return hashlib.sha256(str(Path(state_dir).absolute()).encode()).hexdigest()[:8]


@record(frozen=True)
class CgroupUsage:
    cpu_usage_ns: int
    memory_usage: int
    memory_limit: int | None
    pids: int
    oom_kills: int


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None or text == "max":
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    """A flat keyed file ("key value" per line: memory.stat, cpu.stat, memory.events)."""
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def _mounts(mountinfo: str = "/proc/self/mountinfo") -> tuple[dict[str, Path], Path | None]:
    """(v1 controller -> hierarchy root, the cgroup2 mount point or None)."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            point = Path(fields[4])
            if tail[0] == "cgroup2":
                v2 = point
            elif tail[0] == "cgroup":
                for option in tail[2].split(","):
                    if option in _V1_CONTROLLERS or option.startswith("name="):
                        v1.setdefault(option, point)
    return v1, v2


class Cgroups:
    def __init__(self, instance: str, mountinfo: str = "/proc/self/mountinfo") -> None:
        self.instance = instance
        with readlog.unlogged():  # the host's layout, not state: not in a settled record
            self.v1, self.unified = _mounts(mountinfo)
        # Pure v2 when no v1 controller is mounted; hybrid hosts use the v1 controllers.
        self.is_v2 = not self.v1 and self.unified is not None

    def config_path(self, name: str) -> str:
        """The value of config.json's linux.cgroupsPath for container `name`."""
        return f"/{PARENT}/{self._leaf(name)}"

    def _leaf(self, name: str) -> str:
        return f"{self.instance}-{name}"

    def _v1_dir(self, controller: str, name: str) -> Path | None:
        root = self.v1.get(controller)
        return root / PARENT / self._leaf(name) if root else None

    def _v2_dir(self, name: str) -> Path | None:
        return self.unified / PARENT / self._leaf(name) if self.unified else None

    def controller_dir(self, controller: str, name: str) -> Path | None:
        """The directory holding `controller`'s files for container `name`."""
        return self._v2_dir(name) if self.is_v2 else self._v1_dir(controller, name)

    def all_dirs(self, name: str) -> list[Path]:
        """Every directory runc may have made for the container (existing or not)."""
        roots = set(self.v1.values())
        if self.unified:
            roots.add(self.unified)
        return sorted(root / PARENT / self._leaf(name) for root in roots)

    def existing_dirs(self, name: str) -> list[Path]:
        return [d for d in self.all_dirs(name) if d.is_dir()]

    def remove(self, name: str, timeout: float = 5.0) -> list[Path]:
        """rmdir the container's cgroups; return those still there (busy) after `timeout`."""
        deadline = time.monotonic() + timeout
        left = self.existing_dirs(name)
        while left:
            busy = []
            for d in left:
                try:
                    d.rmdir()
                except FileNotFoundError:
                    continue
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise
                    busy.append(d)
            left = busy
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return left

    def oom_files(self, name: str) -> list[str]:
        """Files with an "oom_kill N" line: what the monitor reads when the container exits."""
        memory = self.controller_dir("memory", name)
        if memory is None:
            return []
        return [str(memory / ("memory.events" if self.is_v2 else "memory.oom_control"))]

    def freezer_state(self, name: str) -> str | None:
        """"FROZEN" / "THAWED" (v1 freezer.state; v2 cgroup.freeze 1/0)."""
        if self.is_v2:
            d = self._v2_dir(name)
            value = _read(d / "cgroup.freeze") if d else None
            return None if value is None else ("FROZEN" if value == "1" else "THAWED")
        d = self._v1_dir("freezer", name)
        return _read(d / "freezer.state") if d else None

    def usage(self, name: str) -> CgroupUsage:
        return self._usage_v2(name) if self.is_v2 else self._usage_v1(name)

    def _usage_v1(self, name: str) -> CgroupUsage:
        cpu = self._v1_dir("cpuacct", name)
        mem = self._v1_dir("memory", name)
        pids = self._v1_dir("pids", name)
        usage = (_read_int(mem / "memory.usage_in_bytes") or 0) if mem else 0
        stat = _keyed(mem / "memory.stat") if mem else {}
        limit = _read_int(mem / "memory.limit_in_bytes") if mem else None
        return CgroupUsage(
            cpu_usage_ns=(_read_int(cpu / "cpuacct.usage") or 0) if cpu else 0,
            # Like `docker stats`: page cache that could be dropped is not "used".
            memory_usage=max(0, usage - stat.get("total_inactive_file", 0)),
            memory_limit=None if limit is None or limit >= UNLIMITED else limit,
            pids=(_read_int(pids / "pids.current") or 0) if pids else 0,
            oom_kills=(_keyed(mem / "memory.oom_control").get("oom_kill", 0)) if mem else 0,
        )

    def _usage_v2(self, name: str) -> CgroupUsage:
        d = self._v2_dir(name)
        if d is None:
            return CgroupUsage(0, 0, None, 0, 0)
        usage = _read_int(d / "memory.current") or 0
        stat = _keyed(d / "memory.stat")
        return CgroupUsage(
            cpu_usage_ns=_keyed(d / "cpu.stat").get("usage_usec", 0) * 1000,
            memory_usage=max(0, usage - stat.get("inactive_file", 0)),
            memory_limit=_read_int(d / "memory.max"),
            pids=_read_int(d / "pids.current") or 0,
            oom_kills=_keyed(d / "memory.events").get("oom_kill", 0),
        )


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) or 1


STATS_SAMPLE = 0.1  # seconds between the two cpu samples of `stats`


def sample_stats(cgroups: Cgroups, name: str) -> ContainerStats:
    """cpu_percent from two cgroup samples STATS_SAMPLE apart, in percent of one CPU
    (200 means two CPUs busy), like `docker stats`."""
    first = cgroups.usage(name)
    t0 = time.monotonic()
    time.sleep(STATS_SAMPLE)
    second = cgroups.usage(name)
    elapsed_ns = (time.monotonic() - t0) * 1e9
    cpu = max(0, second.cpu_usage_ns - first.cpu_usage_ns) / elapsed_ns * 100.0
    return ContainerStats(
        name=name,
        cpu_percent=round(cpu, 2),
        memory_usage=second.memory_usage,
        memory_limit=second.memory_limit,
        pids=second.pids,
    )
