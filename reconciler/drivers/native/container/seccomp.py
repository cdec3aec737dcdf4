"""Seccomp profiles: the project's default allow-list and user-supplied files.

This is the I/O half: the driver calls `profile_for` and hands the result to the pure
`bundle.oci_config` through `BundleInputs.seccomp`. Profiles are in the OCI runtime-spec
`linux.seccomp` format; Docker's extended format (archMap, includes/excludes) is refused
because runc would ignore its conditions and allow more than the author meant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from reconciler.drivers.native.container.security import SecurityOptions
from reconciler.model.errors import ReconcileError

ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
)
OPERATORS = frozenset(
    {
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    }
)
_DOCKER_ONLY_KEYS = ("archMap", "includes", "excludes")


class SeccompProfileError(ReconcileError):
    """A seccomp profile file is missing, unreadable or not a valid OCI profile."""


def _check_rule(index: int, rule: Any) -> list[str]:
    where = f"syscalls[{index}]"
    if not isinstance(rule, Mapping):
        return [f"{where}: expected an object"]
    problems: list[str] = []
    names = rule.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        problems.append(f"{where}.names: expected a non-empty list of syscall names")
    if rule.get("action") not in ACTIONS:
        problems.append(f"{where}.action: {rule.get('action')!r} is not a seccomp action")
    for key in _DOCKER_ONLY_KEYS:
        if key in rule:
            problems.append(f"{where}.{key}: Docker-only field, not OCI linux.seccomp")
    for arg in rule.get("args") or []:
        if not isinstance(arg, Mapping) or arg.get("op") not in OPERATORS:
            problems.append(f"{where}.args: every argument needs an op in {sorted(OPERATORS)}")
        elif not isinstance(arg.get("index"), int) or not isinstance(arg.get("value"), int):
            problems.append(f"{where}.args: index and value must be integers")
    return problems


def profile_problems(profile: Any) -> list[str]:
    """Structural problems of an OCI `linux.seccomp` object; empty when it is valid."""
    if not isinstance(profile, Mapping):
        return ["expected a JSON object"]
    problems: list[str] = []
    if profile.get("defaultAction") not in ACTIONS:
        problems.append(f"defaultAction: {profile.get('defaultAction')!r} is not an action")
    if "archMap" in profile:
        problems.append("archMap: Docker-only field, use architectures (OCI linux.seccomp)")
    architectures = profile.get("architectures", [])
    if not isinstance(architectures, list) or not all(
        isinstance(a, str) and a.startswith("SCMP_ARCH_") for a in architectures
    ):
        problems.append("architectures: expected a list of SCMP_ARCH_* names")
    syscalls = profile.get("syscalls", [])
    if not isinstance(syscalls, list):
        return [*problems, "syscalls: expected a list"]
    for index, rule in enumerate(syscalls):
        problems.extend(_check_rule(index, rule))
    return problems


def load_profile(path: str) -> dict[str, Any]:
    """Read and validate a user's profile (security_opt seccomp=/path.json)."""
    try:
        with open(path, encoding="utf-8") as handle:
            profile = json.load(handle)
    except OSError as error:
        raise SeccompProfileError(f"seccomp profile {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise SeccompProfileError(f"seccomp profile {path}: invalid JSON: {error}") from error
    problems = profile_problems(profile)
    if problems:
        raise SeccompProfileError(f"seccomp profile {path}: " + "; ".join(problems))
    return dict(profile)


@cache
def _default_profile_text() -> str:
    package = resources.files("reconciler.drivers.native.container")
    return package.joinpath("seccomp.json").read_text(encoding="utf-8")


# The host's native ABI only: a filter for every listed architecture costs runc ~20 ms per
# container to compile, and denying the 32-bit compat entry points (x86, x32, arm) is
# stricter than Docker; 32-bit binaries in a container need `seccomp=unconfined`.
NATIVE_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def default_profile(machine: str | None = None) -> dict[str, Any]:
    """The project's allow-list profile for this host's ABI (a fresh copy: callers may
    mutate it)."""
    profile: dict[str, Any] = json.loads(_default_profile_text())
    native = NATIVE_ARCH.get(machine or os.uname().machine)
    if native is not None:
        profile["architectures"] = [native]
    return profile


def profile_for(options: SecurityOptions) -> dict[str, Any] | None:
    """What goes into BundleInputs.seccomp: None means unconfined."""
    if options.seccomp == "unconfined":
        return None
    if options.seccomp == "default":
        return default_profile()
    return load_profile(options.seccomp)


def allowed_syscalls(profile: Mapping[str, Any]) -> frozenset[str]:
    """Names some rule allows (conditionally or not): what a reviewer or a test inspects."""
    return frozenset(
        name
        for rule in profile.get("syscalls", [])
        if rule.get("action") == "SCMP_ACT_ALLOW"
        for name in rule.get("names", [])
    )
