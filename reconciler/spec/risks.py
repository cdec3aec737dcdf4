"""Settings that are allowed but hand a container (part of) the host: binds of `/`, `/etc`,
the kernel's `/proc`, `/sys`, `/dev` or a container engine's socket, capabilities that
amount to root on the host, seccomp switched off. Operators need them at times, so they
are not errors; each becomes a located warning naming the risk, which validate prints
and every plan shows."""

from __future__ import annotations

import os
from typing import Any

from reconciler.model.errors import Problem
from reconciler.spec import units
from reconciler.spec.files import resolve_path
from reconciler.spec.loaded import JsonPath, LoadedFile

_KERNEL = ("/proc", "/sys", "/dev")
_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
_HOST_PATHS = {
    "/": "the whole host filesystem: the container can read and change anything on the host",
    "/etc": "the host's configuration (users, passwords, sudoers): writing there takes over "
    "the host",
}
_CAPS = {
    "ALL": "every capability: the container's root is close to the host's root",
    "SYS_ADMIN": "mount, namespaces and many admin calls: a common container escape",
    "SYS_MODULE": "loading kernel modules: code in the host kernel",
    "SYS_RAWIO": "raw I/O ports and devices: can read and write host memory",
    "SYS_PTRACE": "tracing processes: can read other processes' memory",
    "DAC_READ_SEARCH": "open_by_handle_at: can read any host file (the 'shocker' escape)",
}


def bind_risk(source: str) -> str:
    """Why binding host path `source` (absolute, normalized) is risky; "" if it is not."""
    real = os.path.realpath(source)  # /var/run is a link to /run on most hosts
    for path in dict.fromkeys((source, real)):
        if path in _HOST_PATHS:
            return _HOST_PATHS[path]
        if path in _SOCKETS:
            return "the Docker API socket: whoever talks to it is root on the host"
        if any(path == k or path.startswith(k + "/") for k in _KERNEL):
            return "a host kernel interface: it can change the host kernel or its devices"
    return ""


def _bind_source(entry: str | dict[str, Any]) -> str | None:
    if isinstance(entry, str):
        try:
            short = units.parse_volume(entry)
        except ValueError:
            return None
        return short.source if short.is_bind else None
    return str(entry.get("source")) if entry.get("type") == "bind" else None


def container_risks(loaded: LoadedFile, key: str, spec: dict[str, Any]) -> list[Problem]:
    at: JsonPath = ("containers", key)
    base_dir = loaded.path.absolute().parent
    found: list[tuple[JsonPath, str]] = []
    for i, entry in enumerate(spec.get("volumes") or []):
        source = _bind_source(entry)
        risk = bind_risk(str(resolve_path(base_dir, source))) if source else ""
        if risk:
            shown = resolve_path(base_dir, str(source))
            found.append((("volumes", i), f"container `{key}` binds host `{shown}`: {risk}"))
    for i, cap in enumerate(spec.get("cap_add") or []):
        name = str(cap).upper().removeprefix("CAP_")
        if name in _CAPS:
            found.append((("cap_add", i), f"container `{key}` adds {name}: {_CAPS[name]}"))
    for i, opt in enumerate(spec.get("security_opt") or []):
        if str(opt).replace(":", "=", 1) == "seccomp=unconfined":
            found.append((("security_opt", i), f"container `{key}` runs without seccomp: "
                          "every system call reaches the host kernel"))
    return [
        Problem(*_where(loaded, (*at, *sub)), message, severity="warning")
        for sub, message in found
    ]


def _where(loaded: LoadedFile, path: JsonPath) -> tuple[str, int, int]:
    return loaded.site(path)


def stack_risks(loaded: LoadedFile) -> tuple[Problem, ...]:
    """Every warning of one valid stack file, sorted."""
    containers = (loaded.data or {}).get("containers") or {}
    return tuple(sorted(w for key, spec in containers.items()
                        for w in container_risks(loaded, key, spec)))
