"""Security defaults of a native container and the arithmetic users apply to them.

Everything here is pure: constants (Docker-compatible defaults) and small functions over the
spec's `cap_add`, `cap_drop` and `security_opt`. docs/security.md explains each default and
how to opt out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.model.errors import ReconcileError
from reconciler.model.records import record


class SecurityOptionError(ReconcileError):
    """A capability name or a security_opt entry is not understood."""


# Docker's default bounding set: enough for a normal service, nothing that reaches the host.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)

# Every capability Linux defines up to 5.9 (CAP_CHECKPOINT_RESTORE = 40). runc warns about and
# skips the ones an older kernel lacks, so "ALL" stays usable there.
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip

# Kernel interfaces that leak host information or allow host-wide changes: hidden (masked) or
# made read-only inside every container, as Docker does.
MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# (major, minor or None for any, name): the character devices a container may use. Everything
# else is denied by the devices cgroup, including mknod of new device nodes.
ALLOWED_CHAR_DEVICES: tuple[tuple[int, int | None, str], ...] = (
    (1, 3, "null"),
    (1, 5, "zero"),
    (1, 7, "full"),
    (1, 8, "random"),
    (1, 9, "urandom"),
    (5, 0, "tty"),
    (5, 1, "console"),
    (5, 2, "ptmx"),
    (136, None, "pts"),
)


def device_rules() -> list[dict[str, Any]]:
    """linux.resources.devices: deny everything, then allow the standard character devices."""
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for major, minor, _name in ALLOWED_CHAR_DEVICES:
        rule: dict[str, Any] = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    return rules


def normalize_capability(name: str) -> str:
    """Accept "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" for CAP_NET_ADMIN; "ALL" stays."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if full not in ALL_CAPABILITIES:
        raise SecurityOptionError(f"unknown capability {name!r} (expected e.g. NET_ADMIN or ALL)")
    return full


def effective_capabilities(cap_add: Iterable[str], cap_drop: Iterable[str]) -> list[str]:
    """Docker's rules: add ALL -> every capability but the dropped ones; drop ALL -> only the
    added ones; otherwise the defaults minus the dropped plus the added (add wins a tie)."""
    adds = {normalize_capability(c) for c in cap_add}
    drops = {normalize_capability(c) for c in cap_drop}
    if "ALL" in adds:
        result = set(ALL_CAPABILITIES) - drops
    elif "ALL" in drops:
        result = adds
    else:
        result = (set(DEFAULT_CAPABILITIES) - drops) | adds
    return sorted(result)


@record(frozen=True)
class SecurityOptions:
    seccomp: str = "default"  # "default" | "unconfined" | absolute path of a profile
    no_new_privileges: bool = True


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _split_option(option: str) -> tuple[str, str | None]:
    """Docker accepts both "key=value" and the older "key:value"."""
    for separator in ("=", ":"):
        if separator in option:
            key, value = option.split(separator, 1)
            return key.strip().lower(), value.strip()
    return option.strip().lower(), None


def _parse_bool(option: str, value: str | None) -> bool:
    if value is None or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SecurityOptionError(f"security_opt {option!r}: expected true or false")


def parse_security_opt(options: Iterable[str]) -> SecurityOptions:
    """Read security_opt; anything not supported is an error, never silently ignored."""
    seccomp = "default"
    no_new_privileges = True
    for option in options:
        key, value = _split_option(option)
        if key == "seccomp":
            if not value:
                raise SecurityOptionError(
                    f"security_opt {option!r}: expected seccomp=unconfined or seccomp=/path.json"
                )
            if value != "unconfined" and not value.startswith("/"):
                raise SecurityOptionError(
                    f"security_opt {option!r}: the seccomp profile path must be absolute"
                )
            seccomp = value
        elif key == "no-new-privileges":
            no_new_privileges = _parse_bool(option, value)
        else:
            raise SecurityOptionError(
                f"unsupported security_opt {option!r} "
                "(supported: seccomp=unconfined|<path>, no-new-privileges=true|false)"
            )
    return SecurityOptions(seccomp=seccomp, no_new_privileges=no_new_privileges)
