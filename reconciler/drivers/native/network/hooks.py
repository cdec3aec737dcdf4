"""The few calls NativeDriver makes into networking, so the driver stays small."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.drivers.native.container.state import ContainerPaths, RecordHead, read_record
from reconciler.drivers.native.network.drift import ContainerNet
from reconciler.drivers.native.network.manager import NetworkManager
from reconciler.model.desired import ContainerSpec
from reconciler.model.observed import ObservedContainer
from reconciler.model.records import replace

LIVE = frozenset({"running", "created", "paused"})  # the states the planner repairs drift of


def _published_by_others(containers_dir: Path, name: str) -> dict[str, list[str]]:
    """Container name -> published ports (`8080:80/tcp` form), from our own records."""
    found: dict[str, list[str]] = {}
    for record_path in containers_dir.glob("*/spec.json"):
        other = record_path.parent.name
        record = read_record(ContainerPaths(record_path.parent))
        if other == name or record is None:
            continue
        ports = (record.hashed_fields or {}).get("ports") or []
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


def annotate(
    manager: NetworkManager,
    containers: tuple[ObservedContainer, ...],
    records: Mapping[str, RecordHead],
) -> tuple[ObservedContainer, ...]:
    """Fill `addresses` and `drift` of the containers on a private network. Drift is read
    (links, one `nft` process) for live containers only: the planner replaces a live one
    with drift; an exited one's network is checked when it starts again (links_intact)."""
    private = []
    for c in containers:
        record = records.get(c.name)
        if record is None or record.network == "private":
            ports = record.ports() if record else ()
            private.append(ContainerNet(c.name, c.stack, ports))
    live = {c.name for c in containers if c.state in LIVE}
    drift = manager.observe([p for p in private if p.name in live])
    names = {p.name for p in private}
    out = []
    for c in containers:
        if c.name not in names:
            out.append(c)
            continue
        address = manager.address(c.stack, c.name)
        out.append(replace(
            c, addresses=(address,) if address else (), drift=drift.get(c.name, ()),
        ))  # fmt: skip
    return tuple(out)
