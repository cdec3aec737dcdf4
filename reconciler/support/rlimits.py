"""Resource limits (`ulimits:`): the names a container may set and the host's hard limits.

One implementation for validation (spec, which may not import drivers) and the native
driver. An unknown name is an error naming it: validation must say so clearly.
"""

from __future__ import annotations

import resource

from reconciler.model.errors import ReconcileError

ULIMIT_NAMES = frozenset(
    {
        "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
        "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
    }
)  # fmt: skip
# Python's resource module has no RLIMIT_LOCKS; the kernel's number is 10 on every arch.
_MISSING_CONSTANTS = {"locks": 10}


def rlimit_number(name: str) -> int:
    """The kernel's RLIMIT_<NAME> number (any case); ReconcileError for a non-ulimit."""
    key = name.lower()
    number = getattr(resource, f"RLIMIT_{key.upper()}", _MISSING_CONSTANTS.get(key))
    if key not in ULIMIT_NAMES or not isinstance(number, int):
        known = ", ".join(sorted(ULIMIT_NAMES))
        raise ReconcileError(f"unknown resource limit {name!r} (ulimits: {known})")
    return number


def host_hard_limit(name: str) -> int | None:
    """The hard limit of RLIMIT_<NAME> for this process (root's is the host's); None when
    unlimited. ReconcileError for an unknown name or a limit the kernel will not tell."""
    number = rlimit_number(name)
    try:
        hard = resource.getrlimit(number)[1]
    except (ValueError, OSError) as exc:
        raise ReconcileError(f"cannot read the host's {name} limit: {exc}") from exc
    return None if hard == resource.RLIM_INFINITY else int(hard)
