"""Drift: network objects of a container that are missing or down behind our back.

Pure over the facts read once per observe (one netlink link dump, one `nft list table`,
one `iptables -S`).
A stack-level object (bridge, chain, stack rule) that drifted is reported on every
container of the stack: each of them is cut off by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from reconciler.drivers.native.network import dockeruser, netns, nft
from reconciler.drivers.native.network.ipam import StackNetwork
from reconciler.drivers.native.network.links import LinkFact
from reconciler.model.desired import PortMapping
from reconciler.model.records import record


class NetworkManager(Protocol):
    """The names manager.NetworkManager gives a container's and a stack's objects."""

    def netns_path(self, name: str) -> Path: ...

    def veth(self, name: str) -> str: ...

    def chains(self, network: StackNetwork) -> nft.StackChains: ...


@record(frozen=True)
class ContainerNet:
    name: str
    stack: str
    ports: tuple[PortMapping, ...]


def _stack_drift(
    network: StackNetwork, chains: nft.StackChains, found: Mapping[str, LinkFact],
    table: nft.TableFacts, docker: dockeruser.DockerChain | None,
) -> list[str]:  # fmt: skip
    items = []
    bridge = found.get(network.bridge)
    if bridge is None:
        items.append(f"bridge {network.bridge} missing")
    elif not bridge.up:
        items.append(f"bridge {network.bridge} down")
    for chain in chains.chains:
        if chain not in table.chains:
            items.append(f"nft chain {chain} missing")
    for rule in nft.stack_rules(chains):
        body = rule["rule"]
        if body["chain"] in table.chains and body["comment"] not in table.comments(body["chain"]):
            items.append(f"nft rule {body['comment']!r} missing in {body['chain']}")
    if docker is not None and docker.forward_drops:  # Docker's drop must let us through
        for direction in docker.missing(network.bridge):
            words = " ".join(dockeruser.rule_args(network.bridge, direction))
            items.append(f"iptables rule {words!r} missing in {dockeruser.CHAIN}")
    return items


def _container_drift(
    manager: NetworkManager, c: ContainerNet, network: StackNetwork,
    found: Mapping[str, LinkFact], table: nft.TableFacts,
) -> list[str]:  # fmt: skip
    items = []
    if not netns.is_netns(manager.netns_path(c.name)):
        items.append(f"netns {manager.netns_path(c.name)} missing")
    veth = found.get(manager.veth(c.name))
    bridge = found.get(network.bridge)
    if veth is None:
        items.append(f"veth {manager.veth(c.name)} missing")
    elif not veth.up:
        items.append(f"veth {veth.name} down")
    elif bridge is not None and veth.master != bridge.index:
        items.append(f"veth {veth.name} not on bridge {network.bridge}")
    chains = manager.chains(network)
    for port in c.ports:
        comment = nft.port_comment(c.name, port)
        for hook in ("pre", "out"):
            chain = chains.chain(hook)
            if chain in table.chains and comment not in table.comments(chain):
                items.append(f"nft rule {comment!r} missing in {chain}")
    return items


def find_drift(
    manager: NetworkManager,
    containers: list[ContainerNet],
    networks: Mapping[str, StackNetwork],
    found: Mapping[str, LinkFact],
    table: nft.TableFacts,
    docker: dockeruser.DockerChain | None = None,
) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    per_stack: dict[str, list[str]] = {}
    for c in containers:
        network = networks.get(c.stack)
        if network is None or c.name not in network.leases:
            result[c.name] = (f"no address lease in stack network {c.stack}",)
            continue
        if c.stack not in per_stack:
            per_stack[c.stack] = _stack_drift(network, manager.chains(network), found, table,
                                             docker)
        items = per_stack[c.stack] + _container_drift(manager, c, network, found, table)
        if items:
            result[c.name] = tuple(items)
    return result
