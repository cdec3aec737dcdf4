"""Semantic checks of a container's ports, volumes and limits, and host-port clashes."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from reconciler.model.desired import PortMapping
from reconciler.model.errors import Problem, ReconcileError
from reconciler.model.records import record
from reconciler.spec import units
from reconciler.spec.files import resolve_path
from reconciler.spec.loaded import JsonPath, LoadedFile
from reconciler.spec.schema_check import did_you_mean
from reconciler.support import rlimits


@record(frozen=True)
class PortUse:
    """Where a host port is published, for the duplicate-port check."""
    file: str
    line: int
    column: int
    container: str  # "stack/key"
    mapping: PortMapping


# What these checks need of semantic.py's checkers, stated here so that this module does
# not import the one that calls it.
class FileContext(Protocol):
    loaded: LoadedFile
    data: dict[str, Any]
    base_dir: Path
    stack: str
    ports: list[PortUse]

    @property
    def online_cpus(self) -> frozenset[int]: ...


class ContainerChecker(Protocol):
    key: str
    spec: dict[str, Any]
    at: JsonPath

    @property
    def parent(self) -> FileContext: ...

    def report(self, sub: JsonPath, message: str, *, at_key: bool = False) -> None: ...

    def attempt(self, sub: JsonPath, parse: Callable[[Any], object], value: Any) -> Any: ...


def port_mappings(entry: str | dict[str, Any]) -> tuple[PortMapping, ...]:
    """Expand one `ports:` entry (short string or long mapping); raises ValueError."""
    if isinstance(entry, str):
        return _short_ports(entry)
    return _long_ports(str(entry["host"]), str(entry["container"]),
                       entry.get("protocol", "tcp"), entry.get("host_ip", ""))


# pure: the checks and normalize both expand every entry, once for the two
@lru_cache(maxsize=4096)
def _short_ports(text: str) -> tuple[PortMapping, ...]:
    return tuple(units.parse_port(text))


@lru_cache(maxsize=4096)
def _long_ports(host: str, container: str, protocol: str,
                host_ip: str) -> tuple[PortMapping, ...]:
    return tuple(units.expand_ports(host, container, protocol, host_ip, f"{host}:{container}"))


def check_ports(checker: ContainerChecker) -> None:
    ports = checker.spec.get("ports") or []
    for i, entry in enumerate(ports):
        mappings = checker.attempt(("ports", i), port_mappings, entry)
        file, line, column = checker.parent.loaded.site((*checker.at, "ports", i))
        for mapping in mappings or []:
            checker.parent.ports.append(
                PortUse(
                    file,
                    line,
                    column,
                    f"{checker.parent.stack}/{checker.key}",
                    mapping,
                )
            )
    network = checker.spec.get("network", "private")
    if ports and network in ("host", "none"):
        checker.report(
            ("ports",),
            f"container `{checker.key}` publishes ports but has `network: {network}`; "
            + ("with the host's network its ports are the host's already (remove `ports`)"
               if network == "host" else "it has no network to publish from"),
        )
    update = checker.spec.get("update") or {}
    if ports and isinstance(update, dict) and update.get("order") == "start-first":
        checker.report(
            ("update", "order"),
            f"container `{checker.key}` publishes host ports and wants `start-first`: the old "
            "and the new container cannot hold one host port at once; use `stop-first` "
            "(the default) or drop `ports`",
        )
    replicas = checker.spec.get("replicas", 1)
    if replicas > 1 and ports:
        checker.report(
            ("replicas",),
            f"container `{checker.key}` has {replicas} replicas and a fixed host port; every "
            "replica would need the same host port (use one container per port instead)",
        )


def check_volumes(checker: ContainerChecker) -> None:
    declared = checker.parent.data.get("volumes") or {}
    for i, entry in enumerate(checker.spec.get("volumes") or []):
        sub = ("volumes", i)
        if isinstance(entry, str):
            parsed = checker.attempt(sub, units.parse_volume, entry)
            if parsed is None:
                continue
            kind, source = ("bind" if parsed.is_bind else "volume"), parsed.source
        else:
            kind, source = entry["type"], entry.get("source")
            if not _long_volume_ok(checker, sub, entry):
                continue
        if kind == "volume" and source not in declared:
            checker.report(
                sub,
                f"unknown volume `{source}` in container `{checker.key}`; "
                f"declare it under `volumes:`{did_you_mean(str(source), declared)}",
            )
        if kind == "bind":
            _check_bind_source(checker, sub, str(source))


def _long_volume_ok(checker: ContainerChecker, sub: tuple[str, int], entry: dict[str, Any]) -> bool:
    kind = entry["type"]
    if kind == "tmpfs" and "source" in entry:
        checker.report((*sub, "source"), "a tmpfs mount has no `source`")
        return False
    if kind != "tmpfs" and not entry.get("source"):
        checker.report(sub, f"a {kind} mount needs a `source`")
        return False
    if kind != "tmpfs" and "size" in entry:
        checker.report((*sub, "size"), "`size` only applies to tmpfs mounts")
    if "size" in entry:
        checker.attempt((*sub, "size"), units.parse_size, entry["size"])
    return True


def _check_bind_source(checker: ContainerChecker, sub: tuple[str, int], source: str) -> None:
    path = resolve_path(checker.parent.base_dir, source)
    if not path.exists():
        checker.report(sub, f"bind mount source `{source}` not found (looked for {path})")


def check_limits(checker: ContainerChecker) -> None:
    limits = checker.spec.get("limits") or {}
    sizes = {}
    for name, parse in (("memory", units.parse_size), ("memory_swap", units.parse_swap)):
        if name in limits:
            sizes[name] = checker.attempt(("limits", name), parse, limits[name])
    memory, swap = sizes.get("memory"), sizes.get("memory_swap")
    if swap is not None and memory is None:
        checker.report(("limits", "memory_swap"), "`memory_swap` needs `memory` to be set")
    elif swap is not None and swap != -1 and memory is not None and swap < memory:
        checker.report(
            ("limits", "memory_swap"),
            f"`memory_swap` ({swap} bytes) is less than "
            f"`memory` ({memory} bytes); it counts memory plus swap",
        )
    for name, value in (limits.get("ulimits") or {}).items():
        _check_ulimit(checker, name, value)


def ulimit_pair(value: int | list[int] | dict[str, int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, list):
        return value[0], value[1]
    return value["soft"], value["hard"]


def _check_ulimit(checker: ContainerChecker, name: str, value: Any) -> None:
    sub = ("limits", "ulimits", name)
    soft, hard = ulimit_pair(value)
    if soft > hard:
        checker.report(sub, f"ulimit `{name}`: soft limit {soft} is above the hard limit {hard}")
    try:
        host = rlimits.host_hard_limit(name)
    except ReconcileError as exc:  # the schema names the known ones first; kept as a guard
        checker.report(sub, f"{exc}{did_you_mean(name, rlimits.ULIMIT_NAMES)}")
        return
    if host is not None and hard > host:
        checker.report(
            sub,
            f"ulimit `{name}` hard limit {hard} is above the host's hard limit {host}; "
            f"the runtime could not apply it (use at most {host})",
        )


def _overlaps(a: PortMapping, b: PortMapping) -> bool:
    same_ip = a.host_ip == b.host_ip or not a.host_ip or not b.host_ip
    return same_ip and a.host_port == b.host_port and a.protocol == b.protocol


def port_clashes(uses: list[PortUse]) -> list[Problem]:
    """A host port used twice (same protocol; an empty host_ip overlaps every address)."""
    problems: list[Problem] = []
    by_port: dict[tuple[int, str], list[PortUse]] = {}
    for use in uses:
        key = (use.mapping.host_port, use.mapping.protocol)
        earlier = next((e for e in by_port.get(key, []) if _overlaps(use.mapping, e.mapping)), None)
        by_port.setdefault(key, []).append(use)
        if earlier is None or _same_entry(use, earlier):
            continue
        m = use.mapping
        ip = f"{m.host_ip}:" if m.host_ip else ""
        problems.append(
            Problem(
                use.file,
                use.line,
                use.column,
                f"host port {ip}{m.host_port}/{m.protocol} of `{use.container}` is already "
                f"published by `{earlier.container}` "
                f"({earlier.file}:{earlier.line}:{earlier.column})",
            )
        )
    return problems


def _same_entry(a: PortUse, b: PortUse) -> bool:
    return (a.file, a.line, a.column) == (b.file, b.line, b.column)
