"""Pure generation of an OCI runtime-spec config.json (1.0.2, runc 1.1 as the reference).

`oci_config` reads only its inputs: the driver resolves host paths, the user, the seccomp
profile and host limits first, so every branch here is testable without root or a kernel.
docs/security.md lists the defaults and how to opt out of each.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from reconciler.drivers.native.container import security
from reconciler.model.desired import ContainerSpec, Limits, MountType
from reconciler.model.errors import DriverError, ReconcileError
from reconciler.model.records import record
from reconciler.support.rlimits import ULIMIT_NAMES

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_DEFAULT_NOFILE = 1048576
CPU_PERIOD = 100000  # microseconds, the kernel's and Docker's default CFS period
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_TARGET = "/sbin/docker-init"  # where Docker mounts its init, so tools find it there


@record(frozen=True)
class ResolvedMount:
    """One of the spec's mounts with its host side resolved by the driver."""

    type: MountType
    target: str  # absolute path inside the container
    source: str = ""  # bind: host path; volume: the volume's host directory; tmpfs: ""
    read_only: bool = False
    size: int | None = None  # tmpfs only, bytes


@record(frozen=True)
class BundleInputs:
    spec: ContainerSpec
    image_config: Mapping[str, Any]  # the OCI image config's "config" object
    rootfs: str  # absolute path of the mounted rootfs
    mounts: tuple[ResolvedMount, ...] = ()
    etc_files: Mapping[str, str] | None = None  # container path -> generated host file
    cgroups_path: str = ""
    netns_path: str | None = None  # None: a new private netns (or the host's for host mode)
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    host_nofile_hard: int = MAX_DEFAULT_NOFILE
    seccomp: Mapping[str, Any] | None = None  # linux.seccomp; None means unconfined
    init_binary: str | None = None  # host path of the static tini run as PID 1 (spec.init)


def _fail(spec: ContainerSpec, message: str) -> DriverError:
    return DriverError(spec.name, message)


def process_args(spec: ContainerSpec, image_config: Mapping[str, Any]) -> list[str]:
    """Docker's merge: a spec entrypoint discards the image's Cmd as well as its Entrypoint."""
    if spec.entrypoint is not None:
        args = [*spec.entrypoint, *(spec.command or ())]
    else:
        image_entrypoint = list(image_config.get("Entrypoint") or [])
        if spec.command is not None:
            args = [*image_entrypoint, *spec.command]
        else:
            args = [*image_entrypoint, *(image_config.get("Cmd") or [])]
    if not args:
        raise _fail(spec, "no command: the image has no Cmd/Entrypoint and the spec sets none")
    return args


def with_init(inputs: BundleInputs, args: list[str]) -> list[str]:
    """`init: true`: tini is PID 1 and runs the args as its child, forwarding the signals it
    gets (the stop signal) and reaping orphans; `--` keeps the args' own options its own."""
    if not inputs.spec.init:
        return args
    if inputs.init_binary is None:
        raise _fail(inputs.spec, "init: true but no init binary was resolved")
    return [INIT_TARGET, "--", *args]


def init_mount(inputs: BundleInputs) -> list[dict[str, Any]]:
    """The init binary, read-only and without setuid or devices, like Docker's."""
    if not inputs.spec.init or inputs.init_binary is None:
        return []
    return [{"destination": INIT_TARGET, "type": "bind", "source": inputs.init_binary,
             "options": ["rbind", "rprivate", "ro", "nosuid", "nodev"]}]  # fmt: skip


def process_env(spec: ContainerSpec, image_config: Mapping[str, Any]) -> list[str]:
    """Defaults, then the image's Env, then the spec's env: later entries win. The values
    of encrypted env files come last (normalize gave them only the names `env` does not
    set); their config.json is on a tmpfs (container/secretfs.py)."""
    merged: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.hostname or spec.name}
    for entry in image_config.get("Env") or []:
        key, _, value = str(entry).partition("=")
        merged[key] = value
    merged.update(spec.env)
    merged.update(spec.secret_env)
    return [f"{key}={value}" for key, value in merged.items()]


def rlimits(limits: Limits, host_nofile_hard: int, spec: ContainerSpec) -> list[dict[str, Any]]:
    """RLIMIT_* entries; a nofile hard limit above the host's would make runc fail later."""
    nofile = min(MAX_DEFAULT_NOFILE, host_nofile_hard)
    result: dict[str, dict[str, Any]] = {
        "RLIMIT_NOFILE": {"type": "RLIMIT_NOFILE", "soft": nofile, "hard": nofile}
    }
    for ulimit in limits.ulimits:
        name = ulimit.name.lower()
        if name not in ULIMIT_NAMES:
            raise _fail(spec, f"unknown ulimit {ulimit.name!r} (known: {sorted(ULIMIT_NAMES)})")
        if ulimit.soft > ulimit.hard:
            raise _fail(spec, f"ulimit {name}: soft {ulimit.soft} exceeds hard {ulimit.hard}")
        if name == "nofile" and ulimit.hard > host_nofile_hard:
            raise _fail(
                spec,
                f"ulimit nofile: hard {ulimit.hard} exceeds the host's hard limit "
                f"{host_nofile_hard}; lower it or raise the host's limit",
            )
        key = f"RLIMIT_{name.upper()}"
        result[key] = {"type": key, "soft": ulimit.soft, "hard": ulimit.hard}
    return [result[key] for key in sorted(result)]


def process_section(inputs: BundleInputs) -> dict[str, Any]:
    spec = inputs.spec
    try:
        options = security.parse_security_opt(spec.security_opt)
        caps = security.effective_capabilities(spec.cap_add, spec.cap_drop)
    except ReconcileError as error:
        raise _fail(spec, str(error)) from error
    user: dict[str, Any] = {"uid": inputs.uid, "gid": inputs.gid}
    if inputs.additional_gids:
        user["additionalGids"] = list(inputs.additional_gids)
    return {
        "terminal": False,
        "user": user,
        "args": with_init(inputs, process_args(spec, inputs.image_config)),
        "env": process_env(spec, inputs.image_config),
        "cwd": spec.workdir or inputs.image_config.get("WorkingDir") or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
            "inheritable": [],
            "ambient": [],
        },
        "rlimits": rlimits(spec.limits, inputs.host_nofile_hard, spec),
        "noNewPrivileges": options.no_new_privileges,
    }


def default_mounts() -> list[dict[str, Any]]:
    """The kernel filesystems every container gets, in mount order (/dev before /dev/*)."""
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={DEFAULT_SHM_SIZE}"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]  # fmt: skip


def user_mount(mount: ResolvedMount) -> dict[str, Any]:
    if mount.type == "tmpfs":
        options = ["nosuid", "nodev", "mode=1777"]
        if mount.size is not None:
            options.append(f"size={mount.size}")
        if mount.read_only:
            options.append("ro")
        return {"destination": mount.target, "type": "tmpfs", "source": "tmpfs",
                "options": options}  # fmt: skip
    access = "ro" if mount.read_only else "rw"
    return {"destination": mount.target, "type": "bind", "source": mount.source,
            "options": ["rbind", "rprivate", access]}  # fmt: skip


def _depth(destination: str) -> int:
    return len([part for part in posixpath.normpath(destination).split("/") if part])


def mounts_section(inputs: BundleInputs) -> list[dict[str, Any]]:
    """Kernel filesystems, then the user's and the generated /etc files, parents first.

    A user mount on a default's destination (say /dev/shm) replaces the default, and one on
    /etc/hosts (or hostname, resolv.conf) replaces the generated file, as in Docker."""
    user = [user_mount(m) for m in inputs.mounts] + init_mount(inputs)
    user_targets = {posixpath.normpath(m.target) for m in inputs.mounts}
    etc_access = "ro" if inputs.spec.read_only else "rw"
    etc = [
        {"destination": target, "type": "bind", "source": host_path,
         "options": ["rbind", "rprivate", etc_access]}
        for target, host_path in sorted((inputs.etc_files or {}).items())
        if posixpath.normpath(target) not in user_targets
    ]  # fmt: skip
    defaults = [m for m in default_mounts() if m["destination"] not in user_targets]
    # A stable sort keeps the spec's order among equal depths.
    return defaults + sorted(user + etc, key=lambda m: _depth(m["destination"]))


def namespaces(spec: ContainerSpec, netns_path: str | None) -> list[dict[str, str]]:
    """pid, ipc, uts, mount always; network unless the spec shares the host's. No cgroup
    namespace: runc on cgroup v1 hosts does without it (see docs/security.md)."""
    result = [{"type": kind} for kind in ("pid", "ipc", "uts", "mount")]
    if spec.network != "host":
        network: dict[str, str] = {"type": "network"}
        if netns_path:
            network["path"] = netns_path
        result.append(network)
    return result


def memory_resources(spec: ContainerSpec) -> dict[str, Any]:
    """`swap` is memory+swap, like Docker's --memory-swap; -1 means unlimited swap."""
    limits = spec.limits
    memory: dict[str, Any] = {}
    if limits.memory is not None:
        memory["limit"] = limits.memory
    if limits.memory_swap is not None:
        if limits.memory is None:
            raise _fail(spec, "memory_swap needs a memory limit too")
        if limits.memory_swap != -1 and limits.memory_swap < limits.memory:
            raise _fail(spec, "memory_swap is memory+swap: it cannot be below memory")
        memory["swap"] = limits.memory_swap
    return memory


def resources(spec: ContainerSpec) -> dict[str, Any]:
    limits = spec.limits
    result: dict[str, Any] = {"devices": security.device_rules()}
    memory = memory_resources(spec)
    if memory:
        result["memory"] = memory
    cpu: dict[str, Any] = {}
    if limits.cpus is not None:
        cpu["quota"] = round(limits.cpus * CPU_PERIOD)
        cpu["period"] = CPU_PERIOD
    if limits.cpu_shares is not None:
        cpu["shares"] = limits.cpu_shares
    if limits.cpuset is not None:
        cpu["cpus"] = limits.cpuset
    if cpu:
        result["cpu"] = cpu
    if limits.pids is not None:
        result["pids"] = {"limit": limits.pids}
    return result


def linux_section(inputs: BundleInputs) -> dict[str, Any]:
    spec = inputs.spec
    linux: dict[str, Any] = {
        "namespaces": namespaces(spec, inputs.netns_path),
        "maskedPaths": list(security.MASKED_PATHS),
        "readonlyPaths": list(security.READONLY_PATHS),
        "resources": resources(spec),
    }
    if inputs.cgroups_path:
        linux["cgroupsPath"] = inputs.cgroups_path
    if inputs.seccomp is not None:
        linux["seccomp"] = dict(inputs.seccomp)
    return linux


def oci_config(inputs: BundleInputs) -> dict[str, Any]:
    """The complete config.json for `inputs`; raises DriverError naming the container."""
    spec = inputs.spec
    if not posixpath.isabs(inputs.rootfs):
        raise _fail(spec, f"rootfs {inputs.rootfs!r} must be an absolute path")
    return {
        "ociVersion": OCI_VERSION,
        "process": process_section(inputs),
        "root": {"path": inputs.rootfs, "readonly": spec.read_only},
        "hostname": spec.hostname or spec.name,
        "mounts": mounts_section(inputs),
        "linux": linux_section(inputs),
    }
