"""Our accepts in Docker's DOCKER-USER chain: which rules are ours, what is missing, and the
drift a stack reports when Docker's chain lacks them (pure: `iptables -S` words in)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.drivers.native.network import dockeruser
from reconciler.drivers.native.network.drift import ContainerNet, find_drift
from reconciler.drivers.native.network.ipam import StackNetwork
from reconciler.drivers.native.network.links import LinkFact
from reconciler.drivers.native.network.nft import StackChains, TableFacts

BRIDGE = "rcb-0a1b2c3d"


def _listed(*rules: list[str], drops: bool = True) -> dockeruser.DockerChain:
    return dockeruser.DockerChain(tuple(("-A", dockeruser.CHAIN, *rule) for rule in rules), drops)


def test_both_directions_missing_from_dockers_default_chain() -> None:
    assert _listed(["-j", "RETURN"]).missing(BRIDGE) == ["-i", "-o"]


def test_a_rule_counts_only_with_our_comment_and_this_bridge() -> None:
    inbound = dockeruser.rule_args(BRIDGE, "-i")
    someone_elses = ["-o", BRIDGE, "-j", "ACCEPT"]  # same match, not our comment
    other_bridge = dockeruser.rule_args("rcb-ffffffff", "-o")
    rules = _listed(inbound, someone_elses, other_bridge, ["-j", "RETURN"])
    assert rules.missing(BRIDGE) == ["-o"]
    assert _listed(inbound, dockeruser.rule_args(BRIDGE, "-o")).missing(BRIDGE) == []


class _Names:
    def netns_path(self, name: str) -> Path:
        return Path("/nonexistent")  # netns drift is not what these cases look at

    def veth(self, name: str) -> str:
        return "rcveth"

    def chains(self, network: StackNetwork) -> StackChains:
        return StackChains(network.stack, "0a1b2c3d", network.subnet, network.bridge)


def _drift(docker: dockeruser.DockerChain | None) -> tuple[str, ...]:
    network = StackNetwork("s", "10.89.3.0/24", BRIDGE, leases={"s-web": "10.89.3.2"})
    links = {BRIDGE: LinkFact(BRIDGE, 7, None, True, "bridge"),
             "rcveth": LinkFact("rcveth", 8, 7, True, "veth")}  # fmt: skip
    chains = _Names().chains(network)
    table = TableFacts(True, frozenset(chains.chains), ())
    found = find_drift(_Names(), [ContainerNet("s-web", "s", ())], {"s": network}, links, table,
                       docker)  # fmt: skip
    return tuple(item for item in found.get("s-web", ()) if "iptables" in item)


def test_drift_names_the_missing_accept_only_where_dockers_forward_drops() -> None:
    assert _drift(None) == ()  # no Docker firewall: nothing asked of it
    assert _drift(_listed(["-j", "RETURN"], drops=False)) == ()  # its FORWARD accepts
    missing = _drift(_listed(["-j", "RETURN"]))
    assert len(missing) == 2 and all(dockeruser.CHAIN in item for item in missing)
    assert f"-i {BRIDGE}" in missing[0] and f"-o {BRIDGE}" in missing[1]
    full = _listed(*(dockeruser.rule_args(BRIDGE, d) for d in dockeruser.DIRECTIONS))
    assert _drift(full) == ()


def test_read_parses_iptables_words_quotes_and_the_forward_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = "\n".join([
        "-P INPUT ACCEPT", "-P FORWARD DROP", "-N DOCKER-USER", "-N DOCKER",
        "-A FORWARD -j DOCKER-USER",
        f'-A DOCKER-USER -i {BRIDGE} -m comment --comment "reconcile:{BRIDGE}" -j ACCEPT',
        "-A DOCKER-USER -j RETURN",
    ])  # fmt: skip
    done = subprocess.CompletedProcess(["iptables"], 0, listed + "\n", "")
    monkeypatch.setattr(dockeruser, "_iptables", lambda args: done)
    chain = dockeruser.read()
    assert chain is not None and chain.forward_drops and chain.missing(BRIDGE) == ["-o"]
    without = subprocess.CompletedProcess(["iptables"], 0, "-P FORWARD DROP\n", "")
    monkeypatch.setattr(dockeruser, "_iptables", lambda args: without)
    assert dockeruser.read() is None  # no DOCKER-USER: nothing of Docker's to make room in
