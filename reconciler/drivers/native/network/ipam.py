"""Address management: one subnet per stack, one lease per container name.

`choose_subnet` is pure: the caller passes the host's routes and addresses (read through
netlink) and the subnets our other stacks hold. The lease file of a stack,
`<state>/network/<stack>.json`, is rewritten atomically (temp file + rename), so a
`kill -9` leaves either the old or the new file, never half of one.

Leases are keyed by container name and survive `remove`: a replaced container (removed,
then created under the same name) gets its address back. They go when the stack's last
container goes, or, when the subnet is full, leases of containers that no longer exist
are reclaimed.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reconciler.drivers.native.container.state import read_json
from reconciler.model.errors import DriverError
from reconciler.model.records import field, record, replace
from reconciler.support import atomic

Net = ipaddress.IPv4Network

# Candidate pools, in order: 10.89.0.0/16 first (what Podman uses), then the other
# RFC 1918 ranges. Each stack gets a /24.
POOLS = (Net("10.89.0.0/16"), Net("172.29.0.0/16"), Net("192.168.128.0/17"), Net("10.0.0.0/8"))
PREFIX = 24


def _overlaps(net: Net, used: Iterable[Net]) -> Net | None:
    for other in used:
        if net.overlaps(other):
            return other
    return None


def choose_subnet(stack_key: str, host_nets: Iterable[Net], taken: Iterable[Net]) -> Net:
    """The first free /24 of the pools, starting at an offset derived from the stack's
    key: the same stack picks the same subnet again after a `down` (when it is still free),
    and stacks rarely contend for the same one. "Free" means it overlaps no host route or
    address (the default route excluded, as Docker does) and no subnet of another stack."""
    used = [n for n in (*host_nets, *taken) if n.prefixlen > 0]
    digest = int(hashlib.sha256(stack_key.encode()).hexdigest(), 16)
    for pool in POOLS:
        subnets = list(pool.subnets(new_prefix=PREFIX))
        start = digest % len(subnets)
        for i in range(len(subnets)):
            candidate = subnets[(start + i) % len(subnets)]
            if _overlaps(candidate, used) is None:
                return candidate
    raise DriverError(stack_key, "no free private subnet: every RFC 1918 /24 is in use")


def check_requested(
    stack: str, subnet: Net, host_nets: Iterable[Net], taken: Iterable[Net]
) -> None:
    """A subnet named in the stack must not overlap the host's routes or another stack's."""
    clash = _overlaps(subnet, [n for n in host_nets if n.prefixlen > 0])
    if clash is not None:
        raise DriverError(stack, f"subnet {subnet} overlaps the host route {clash}")
    clash = _overlaps(subnet, taken)
    if clash is not None:
        raise DriverError(stack, f"subnet {subnet} overlaps {clash} of another stack")


@record(frozen=True)
class StackNetwork:
    stack: str
    subnet: str  # e.g. "10.89.3.0/24"
    bridge: str
    leases: dict[str, str] = field(default_factory=dict)  # container name -> address
    names: dict[str, list[str]] = field(default_factory=dict)  # container -> /etc/hosts names

    @property
    def net(self) -> Net:
        return Net(self.subnet)

    @property
    def gateway(self) -> str:
        return str(self.net.network_address + 1)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "subnet": self.subnet, "bridge": self.bridge,
                "leases": dict(sorted(self.leases.items())),
                "names": dict(sorted(self.names.items()))}  # fmt: skip


def allocate(
    network: StackNetwork, name: str, exists: Callable[[str], bool]
) -> tuple[StackNetwork, str]:
    """The container's address: its lease, or the lowest free one (reclaiming leases of
    containers that no longer exist when the subnet is full)."""
    if name in network.leases:
        return network, network.leases[name]
    leases = dict(network.leases)
    address = _lowest_free(network.net, set(leases.values()))
    if address is None:
        leases = {n: a for n, a in leases.items() if exists(n)}
        network = replace(network, names={n: v for n, v in network.names.items() if n in leases})
        address = _lowest_free(network.net, set(leases.values()))
    if address is None:
        raise DriverError(
            name, f"no free address in {network.subnet} of stack {network.stack} "
            f"({len(leases)} leased): name a larger subnet under networks:",
        )  # fmt: skip
    leases[name] = address
    return replace(network, leases=leases), address


def _lowest_free(net: Net, leased: set[str]) -> str | None:
    gateway = net.network_address + 1
    for host in net.hosts():
        if host != gateway and str(host) not in leased:
            return str(host)
    return None


class LeaseFiles:
    """The per-stack network records under `<state>/network/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, stack: str) -> Path:
        return self.root / f"{stack}.json"

    def load(self, stack: str) -> StackNetwork | None:
        data = read_json(self.path(stack))
        if not isinstance(data, dict) or not isinstance(data.get("subnet"), str):
            return None
        raw_leases, raw_names = data.get("leases"), data.get("names")
        leases = raw_leases if isinstance(raw_leases, dict) else {}
        names = raw_names if isinstance(raw_names, dict) else {}
        bridge = str(data.get("bridge", ""))
        return StackNetwork(stack, data["subnet"], bridge, dict(leases), dict(names))

    def save(self, network: StackNetwork) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic.write_json(self.path(network.stack), network.to_json())

    def delete(self, stack: str) -> None:
        self.path(stack).unlink(missing_ok=True)

    def all(self) -> list[StackNetwork]:
        found = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            network = self.load(path.stem)
            if network is not None:
                found.append(network)
        return found
