"""Pure parts of native networking: subnet choice, leases, nft rule documents, drift."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from reconciler.drivers.native.network import hostsfile, ipam, nft
from reconciler.model import records
from reconciler.model.desired import Desired, PortMapping
from reconciler.model.errors import DriverError
from reconciler.planner.plan import plan
from tests.plan_fixtures import base_stack, observed_for

Net = ipaddress.IPv4Network


def test_subnet_avoids_host_routes_and_other_stacks_and_is_stable() -> None:
    first = ipam.choose_subnet("s1", [Net("192.0.2.0/24")], [])
    assert first.prefixlen == 24 and first.is_private
    assert ipam.choose_subnet("s1", [Net("192.0.2.0/24")], []) == first
    again = ipam.choose_subnet("s1", [first], [])
    assert again != first
    assert ipam.choose_subnet("s1", [], [first]) != first
    # the default route (0.0.0.0/0) does not count as using everything
    assert ipam.choose_subnet("s1", [Net("0.0.0.0/0")], []) == first


def test_requested_subnet_overlapping_a_host_route_is_refused() -> None:
    with pytest.raises(DriverError, match=r"overlaps the host route 10\.0\.0\.0/8"):
        ipam.check_requested("s", Net("10.1.2.0/24"), [Net("10.0.0.0/8")], [])
    with pytest.raises(DriverError, match="of another stack"):
        ipam.check_requested("s", Net("10.1.2.0/24"), [], [Net("10.1.0.0/16")])


def test_leases_are_kept_by_name_and_exhaustion_is_a_clear_error(tmp_path: Path) -> None:
    network = ipam.StackNetwork("s", "10.9.9.0/29", "rcb-x")  # 6 hosts, .1 is the gateway
    names = [f"s-{i}" for i in range(5)]
    for name in names:
        network, _ = ipam.allocate(network, name, lambda n: True)
    assert network.leases["s-0"] == "10.9.9.2"
    assert ipam.allocate(network, "s-0", lambda n: True)[1] == "10.9.9.2"
    with pytest.raises(
        DriverError, match=r"no free address in 10.9.9.0/29 of stack s \(5 leased\)"
    ):
        ipam.allocate(network, "s-new", lambda n: True)
    # leases of containers that no longer exist are reclaimed when the subnet is full
    network, address = ipam.allocate(network, "s-new", lambda n: n != "s-3")
    assert address == "10.9.9.5" and "s-3" not in network.leases
    files = ipam.LeaseFiles(tmp_path)
    files.save(network)
    assert files.load("s") == network and files.all() == [network]
    files.delete("s")
    assert files.load("s") is None


def test_port_rules_dnat_in_prerouting_and_output() -> None:
    chains = nft.StackChains("shop", "1234abcd", "10.89.1.0/24", "rcb-1234abcd")
    rules = nft.port_rules(
        chains,
        "shop-web",
        "10.89.1.2",
        [PortMapping(8080, 80), PortMapping(5353, 53, "udp", "127.0.0.1")],
    )
    assert [r["rule"]["chain"] for r in rules] == ["shop-1234abcd-pre", "shop-1234abcd-out"] * 2
    tcp = rules[0]["rule"]
    assert tcp["comment"] == "shop-web 8080/tcp"
    assert tcp["expr"][-1] == {"dnat": {"family": "ip", "addr": "10.89.1.2", "port": 80}}
    assert rules[2]["rule"]["comment"] == "shop-web 127.0.0.1:5353/udp"
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                      "right": "127.0.0.1"}} in rules[2]["rule"]["expr"]  # fmt: skip


def test_parse_table_reads_chains_rules_and_comments() -> None:
    listing = {"nftables": [
        {"metainfo": {}}, {"table": {"name": "reconcile"}},
        {"chain": {"name": "s-1-pre"}},
        {"rule": {"chain": "s-1-pre", "handle": 7, "comment": "s-web 80/tcp"}},
    ]}  # fmt: skip
    facts = nft.parse_table(listing)
    assert (
        facts.exists
        and facts.chains == {"s-1-pre"}
        and facts.comments("s-1-pre") == {"s-web 80/tcp"}
    )


def test_hosts_file_lists_every_member_with_names() -> None:
    network = ipam.StackNetwork("s", "10.9.0.0/24", "rcb-x",
                                {"s-a": "10.9.0.2", "s-b": "10.9.0.3"},
                                {"s-a": ["s-a", "a"], "s-b": ["s-b", "b", "bee"]})  # fmt: skip
    text = hostsfile.render(network, "s-a", "s-a", ["s-a", "s-b"])
    assert "10.9.0.2\ts-a a\n" in text and "10.9.0.3\ts-b b bee\n" in text


def test_drift_of_a_running_container_plans_a_replace_naming_it() -> None:
    desired = Desired((base_stack(),))
    observed = observed_for(desired)
    name = desired.containers()[0].name
    drifted = tuple(
        c if c.name != name else records.replace(c, drift=("veth rc1 missing",))
        for c in observed.containers
    )
    result = plan(desired, records.replace(observed, containers=drifted))
    action = next(a for a in result.actions if a.target == name)
    assert action.kind == "replace" and action.reason == "drift: veth rc1 missing"
    assert action.changes[0].path == "drift"


def test_a_containers_mac_is_derived_from_its_address_as_dockers_is() -> None:
    from reconciler.drivers.native.network.links import mac_for

    assert mac_for("10.89.3.2") == "02:42:0a:59:03:02"
    assert mac_for("172.29.200.254") == "02:42:ac:1d:c8:fe"
