"""Host facts the native driver depends on: the cgroup layout, the OCI runtime, rlimits,
the init binary of `init: true` containers.

cgroup v2 hosts are served best by crun (fast, full v2 support) and fall back to runc.
On v1 and hybrid hosts only runc applies resource limits (crun 1.8 refuses them there), so
runc is chosen; crun there (asked for explicitly, or the only one installed) is used with
a warning, since containers without limits still run.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Mapping, Sequence
from typing import Literal

from reconciler.model.errors import ReconcileError, RuntimeMissing
from reconciler.model.records import record

CgroupMode = Literal["v1", "hybrid", "v2"]
RUNTIMES: tuple[str, ...] = ("crun", "runc")
INSTALL_HINT = "install runc: apt-get install runc"
# Debian's `tini` ships tini-static; docker.io's docker-init is a link to it.
INIT_NAMES: tuple[str, ...] = ("tini-static", "docker-init")
INIT_MISSING = ("no statically linked tini found (looked for tini-static and docker-init on "
                "PATH); install it: apt-get install tini")
PT_INTERP = 3  # an ELF program header naming the dynamic loader


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


@record(frozen=True)
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


def find_init(path: str | None = None) -> str | None:
    """The real path of the host's statically linked tini, or None. A dynamically linked
    one is passed over: it would not start inside an image without the host's libc."""
    for name in INIT_NAMES:
        found = shutil.which(name, path=path)
        if found and is_static_elf(found):
            return os.path.realpath(found)
    return None


def is_static_elf(path: str) -> bool:
    """An ELF executable without a PT_INTERP program header (no dynamic loader needed)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] not in (1, 2):
                return False
            order = "<" if head[5] == 1 else ">"
            if head[4] == 2:  # 64-bit: e_phoff at 32, e_phentsize and e_phnum at 54
                (offset,) = struct.unpack_from(order + "Q", head, 32)
                size, count = struct.unpack_from(order + "HH", head, 54)
            else:  # 32-bit: e_phoff at 28, e_phentsize and e_phnum at 42
                (offset,) = struct.unpack_from(order + "I", head, 28)
                size, count = struct.unpack_from(order + "HH", head, 42)
            f.seek(offset)
            table = f.read(size * count)
    except OSError:
        return False
    if size < 4 or len(table) < size * count:
        return False
    types = (struct.unpack_from(order + "I", table, i * size)[0] for i in range(count))
    return PT_INTERP not in types
