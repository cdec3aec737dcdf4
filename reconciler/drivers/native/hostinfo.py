"""Host facts the native driver depends on: the cgroup layout, the OCI runtime, rlimits.

cgroup v2 hosts are served best by crun (fast, full v2 support) and fall back to runc.
On v1 and hybrid hosts only runc applies resource limits (crun 1.8 refuses them there), so
runc is chosen; crun there (asked for explicitly, or the only one installed) is used with
a warning, since containers without limits still run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from reconciler.model.errors import ReconcileError, RuntimeMissing

CgroupMode = Literal["v1", "hybrid", "v2"]
RUNTIMES: tuple[str, ...] = ("crun", "runc")
INSTALL_HINT = "install runc: apt-get install runc"


def cgroup_mode(root: str = "/sys/fs/cgroup") -> CgroupMode:
    """v2: the unified hierarchy is mounted at `root` itself (cgroup.controllers at the top).
    hybrid: v1 controllers plus a cgroup2 mount at root/unified. v1: controllers only."""
    if os.path.isfile(os.path.join(root, "cgroup.controllers")):
        return "v2"
    if not os.path.isdir(root):
        raise ReconcileError(f"no cgroup filesystem at {root}: is /sys mounted?")
    if os.path.isfile(os.path.join(root, "unified", "cgroup.controllers")):
        return "hybrid"
    return "v1"


def find_runtimes(names: Sequence[str] = RUNTIMES, path: str | None = None) -> dict[str, str]:
    """name -> absolute path of every runtime found on PATH (or `path`)."""
    found: dict[str, str] = {}
    for name in names:
        location = shutil.which(name, path=path)
        if location:
            found[name] = location
    return found


@dataclass(frozen=True)
class RuntimeChoice:
    name: str
    path: str
    warning: str | None = None  # for the driver to log; never fatal


def choose_runtime(
    mode: CgroupMode, available: Mapping[str, str], override: str | None = None
) -> RuntimeChoice:
    """Pick the OCI runtime for this host. Pure: `available` comes from find_runtimes."""
    name = override or _preferred(mode, available)
    if name not in available:
        raise RuntimeMissing(
            f"runtime {name!r} was requested but is not installed "
            f"(found: {', '.join(sorted(available)) or 'none'}); {INSTALL_HINT}"
        )
    warning = None
    if name == "crun" and mode != "v2":
        warning = (
            f"crun on a cgroup {mode} host cannot apply resource limits (memory, cpus, "
            "pids): containers with limits will fail to start; install runc"
        )
    return RuntimeChoice(name, available[name], warning)


def _preferred(mode: CgroupMode, available: Mapping[str, str]) -> str:
    preference = ("crun", "runc") if mode == "v2" else ("runc", "crun")
    for name in preference:
        if name in available:
            return name
    raise RuntimeMissing(f"no OCI runtime found (looked for {', '.join(RUNTIMES)}); {INSTALL_HINT}")


