"""The few calls NativeDriver makes into networking, so the driver stays small."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.drivers.native.container.state import read_json
from reconciler.drivers.native.network.drift import ContainerNet
from reconciler.drivers.native.network.manager import NetworkManager
from reconciler.model.desired import ContainerSpec, PortMapping
from reconciler.model.observed import ObservedContainer


def _published_by_others(containers_dir: Path, name: str) -> dict[str, list[str]]:
    """Container name -> published ports (`8080:80/tcp` form), from our own records."""
    found: dict[str, list[str]] = {}
    for record_path in containers_dir.glob("*/spec.json"):
        other = record_path.parent.name
        record = read_json(record_path)
        if other == name or not isinstance(record, dict):
            continue
        ports = (record.get("hashed_fields") or {}).get("ports") or []
        if ports:
            found[other] = [str(p) for p in ports]
    return found


def precheck(manager: NetworkManager, spec: ContainerSpec, containers_dir: Path) -> None:
    """Before anything is made: the host ports are free (refused naming the holder)."""
    if spec.ports and spec.network == "private":
        manager.check_ports(spec, _published_by_others(containers_dir, spec.name))


def attach(manager: NetworkManager, spec: ContainerSpec) -> tuple[str | None, str | None]:
    """(netns path, /etc/hosts text) for prepare(); (None, None) for host/none networks."""
    if spec.network != "private":
        return None, None
    attachment = manager.setup(spec)
    return attachment.netns_path, attachment.hosts


def _ports(raw: Any) -> tuple[PortMapping, ...]:
    found = []
    for p in raw if isinstance(raw, list) else []:
        if isinstance(p, dict):
            with_defaults = {k: p[k] for k in ("host_port", "container_port", "protocol",
                                               "host_ip") if k in p}  # fmt: skip
            found.append(PortMapping(**with_defaults))
    return tuple(found)


def annotate(
    manager: NetworkManager,
    containers: tuple[ObservedContainer, ...],
    records: Mapping[str, Mapping[str, Any]],
) -> tuple[ObservedContainer, ...]:
    """Fill `addresses` and `drift` of the containers on a private network."""
    private = []
    for c in containers:
        spec = records.get(c.name, {}).get("spec") or {}
        if spec.get("network", "private") == "private":
            private.append(ContainerNet(c.name, c.stack, _ports(spec.get("ports"))))
    drift = manager.observe(private)
    names = {p.name for p in private}
    out = []
    for c in containers:
        if c.name not in names:
            out.append(c)
            continue
        address = manager.address(c.stack, c.name)
        out.append(dataclasses.replace(
            c, addresses=(address,) if address else (), drift=drift.get(c.name, ()),
        ))  # fmt: skip
    return tuple(out)
