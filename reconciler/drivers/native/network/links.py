"""Links, addresses and routes through netlink (pyroute2), never by running `ip`.

Every function opens its own short-lived socket: the driver runs actions on several
threads, and a pyroute2 socket is not meant to be shared between them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model.records import record

if TYPE_CHECKING:
    from pyroute2 import IPRoute

Net = ipaddress.IPv4Network
CONTAINER_IFNAME = "eth0"


@contextlib.contextmanager
def _ipr(netns: Path | None = None) -> Iterator[IPRoute]:
    """A netlink socket; netlink errors leave as OSError (the edge of pyroute2).
    pyroute2 costs ~0.1 s to import, so only code that changes links imports it."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    # flags=0: open an existing namespace only (pyroute2 would create a missing one).
    ipr = IPRoute(netns=str(netns), flags=0) if netns is not None else IPRoute()
    try:
        yield ipr
    except NetlinkError as e:
        raise OSError(e.code, f"netlink: {e}") from e
    finally:
        ipr.close()


def _suppress_netlink() -> Any:
    from pyroute2.netlink.exceptions import NetlinkError

    return contextlib.suppress(NetlinkError)


@record(frozen=True)
class LinkFact:
    name: str
    index: int
    master: int | None
    up: bool  # administratively up (IFF_UP)
    kind: str


def links(sys_class_net: str = "/sys/class/net") -> dict[str, LinkFact]:
    """Every link of the host's namespace, by name. Read from sysfs rather than netlink:
    observe runs on every plan, and this costs a few ms with no pyroute2 import."""
    found = {}
    for name in os.listdir(sys_class_net):
        fact = link(name, sys_class_net)
        if fact is not None:
            found[name] = fact
    return found


def link(name: str, sys_class_net: str = "/sys/class/net") -> LinkFact | None:
    """One link of the host's namespace from sysfs; None when there is none of that name."""
    base = os.path.join(sys_class_net, name)
    try:
        index = int(_read(base, "ifindex"))
        up = bool(int(_read(base, "flags"), 16) & 1)  # IFF_UP
        master_link = os.path.join(base, "master")
        master = int(_read(master_link, "ifindex")) if os.path.exists(master_link) else None
    except (OSError, ValueError):
        return None  # no such link, or it went away while we looked
    kind = "bridge" if os.path.isdir(os.path.join(base, "bridge")) else ""
    return LinkFact(name, index, master, up, kind)


def _read(base: str, leaf: str) -> str:
    with open(os.path.join(base, leaf), encoding="ascii") as f:
        return f.read().strip()


def host_networks(exclude_links: frozenset[str] = frozenset()) -> list[Net]:
    """IPv4 networks the host uses: its routes (all tables) and its addresses' subnets,
    leaving out those on `exclude_links` (a stack's own bridge)."""
    nets: list[Net] = []
    with _ipr() as ipr:
        names = {m["index"]: m.get("IFLA_IFNAME") for m in ipr.get_links()}
        excluded = {i for i, n in names.items() if n in exclude_links}
        for route in ipr.get_routes(family=socket.AF_INET, table=0):
            if route.get("RTA_OIF") in excluded or route["type"] not in (1, 2):  # unicast, local
                continue
            dst = route.get("RTA_DST") or "0.0.0.0"
            nets.append(Net(f"{dst}/{route['dst_len']}", strict=False))
        for addr in ipr.get_addr(family=socket.AF_INET):
            if addr["index"] in excluded:
                continue
            nets.append(Net(f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
    return nets


def _sysctl(path: str, value: str) -> bool:
    """Write a /proc/sys value if it differs; True when it changed."""
    full = Path("/proc/sys") / path
    if full.read_text().strip() == value:
        return False
    full.write_text(value)
    return True


def enable_ip_forward() -> bool:
    return _sysctl("net/ipv4/ip_forward", "1")


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> int:
    """The stack's bridge, with the gateway address, up; route_localnet on it so that a
    connection to 127.0.0.1 can be DNATed to a container behind it. Returns its index."""
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            ipr.link("add", ifname=name, kind="bridge")
            found = ipr.link_lookup(ifname=name)
        index = found[0]
        have = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=socket.AF_INET)}
        if gateway not in have:
            ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")
    return int(index)


def delete_link(name: str) -> None:
    with _ipr() as ipr:
        for index in ipr.link_lookup(ifname=name):
            with _suppress_netlink():
                ipr.link("del", index=index)


@record(frozen=True)
class Attach:
    host_ifname: str
    bridge: str
    netns: Path
    address: str
    prefixlen: int
    gateway: str
    mac: str


def mac_for(address: str) -> str:
    """The MAC of the container with `address`, as Docker derives one: 02:42 and the four
    bytes of the address. A container replaced at its address keeps its MAC, so the host's
    and the other members' neighbour entries stay right (a new random one is unreachable
    until each entry expires, up to tens of seconds)."""
    return "02:42:" + ":".join(f"{int(byte):02x}" for byte in address.split("."))


def _peer_ready(netns: Path, attach: Attach) -> bool:
    with _ipr(netns) as ns:
        found = ns.link_lookup(ifname=CONTAINER_IFNAME)
        if not found:
            return False
        addrs = {a.get("IFA_ADDRESS") for a in ns.get_addr(index=found[0])}
        return attach.address in addrs


def attach_container(attach: Attach) -> None:
    """A veth pair: the host end enslaved to the bridge, the other end `eth0` in the
    container's namespace with its address and default route. Idempotent: a half-made
    pair (debris of a killed run) is deleted and made again."""
    with _ipr() as ipr:
        existing = ipr.link_lookup(ifname=attach.host_ifname)
        if existing and _peer_ready(attach.netns, attach):
            bridge = ipr.link_lookup(ifname=attach.bridge)[0]
            ipr.link("set", index=existing[0], master=bridge, state="up")
            return
        if existing:
            ipr.link("del", index=existing[0])
        fd = os.open(attach.netns, os.O_RDONLY)
        try:
            peer = {"ifname": CONTAINER_IFNAME, "net_ns_fd": fd}
            ipr.link("add", ifname=attach.host_ifname, kind="veth", peer=peer)
        finally:
            os.close(fd)
        index = ipr.link_lookup(ifname=attach.host_ifname)[0]
        bridge = ipr.link_lookup(ifname=attach.bridge)[0]
        ipr.link("set", index=index, master=bridge, state="up")
    _configure_inside(attach)


def _configure_inside(attach: Attach) -> None:
    with _ipr(attach.netns) as ns:
        lo = ns.link_lookup(ifname="lo")[0]
        ns.link("set", index=lo, state="up")
        index = ns.link_lookup(ifname=CONTAINER_IFNAME)[0]
        ns.link("set", index=index, address=attach.mac)
        ns.addr("add", index=index, address=attach.address, prefixlen=attach.prefixlen)
        ns.link("set", index=index, state="up")
        ns.route("add", dst="0.0.0.0/0", gateway=attach.gateway)


def netns_details(netns: Path) -> list[dict[str, Any]]:
    """Links and addresses inside a namespace, as the kernel reports them."""
    out = []
    with _ipr(netns) as ns:
        addrs: dict[int, list[str]] = {}
        for a in ns.get_addr():
            addrs.setdefault(a["index"], []).append(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}")
        for link in ns.get_links():
            out.append({
                "ifname": link.get("IFLA_IFNAME"),
                "mac": link.get("IFLA_ADDRESS"),
                "state": link.get("IFLA_OPERSTATE"),
                "up": bool(link["flags"] & 1),
                "addresses": addrs.get(link["index"], []),
            })  # fmt: skip
    return out
