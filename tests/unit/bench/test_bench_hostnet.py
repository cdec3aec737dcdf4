"""bench/hostnet.py: what it deletes after a dockerd with iptables, from fake snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from bench import hostnet


def nft(tables: list[tuple[str, str]], chains: list[tuple[str, str, str, str | None]],
        rules: list[tuple[str, str, str, int]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "table": [{"family": f, "name": n} for f, n in tables],
        "chain": [{"family": f, "table": t, "name": n, **({"policy": p} if p else {})}
                  for f, t, n, p in chains],
        "rule": [{"family": f, "table": t, "chain": c, "handle": h} for f, t, c, h in rules],
    }


BEFORE = {
    "nft": nft([("ip", "filter")], [("ip", "filter", "FORWARD", "accept")],
               [("ip", "filter", "FORWARD", 3)]),
    "links": ["eth0", "lo"],
    "sysctls": {"/proc/sys/net/ipv4/ip_forward": "0"},
}
AFTER = nft(
    [("ip", "filter"), ("ip", "nat")],
    [("ip", "filter", "FORWARD", "drop"), ("ip", "filter", "DOCKER", None),
     ("ip", "nat", "DOCKER", None)],
    [("ip", "filter", "FORWARD", 3), ("ip", "filter", "FORWARD", 9),
     ("ip", "filter", "DOCKER", 10), ("ip", "nat", "DOCKER", 4)],
)


class FakeHost:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.written: dict[str, str] = {}


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    fake = FakeHost()
    monkeypatch.setattr(hostnet, "_nft_objects", lambda: AFTER)
    monkeypatch.setattr(hostnet, "_links", lambda: ["br-0123456789ab", "eth0", "lo",
                                                    "rcb-1234abcd", "veth1a2b3c4"])
    monkeypatch.setattr(hostnet, "_sysctls", lambda: {"/proc/sys/net/ipv4/ip_forward": "1"})
    monkeypatch.setattr(hostnet, "_nft", lambda *words: fake.calls.append(["nft", *words]))
    monkeypatch.setattr(hostnet.subprocess, "run", lambda cmd, **_: fake.calls.append(cmd))
    monkeypatch.setattr(hostnet.Path, "write_text",
                        lambda self, text: fake.written.__setitem__(str(self), text))
    return fake


def test_leftovers_name_only_what_is_new_and_of_docker_kinds(host: FakeHost) -> None:
    found = hostnet.leftovers(BEFORE)
    assert found == [
        "nft table ip nat", "nft chain ip filter DOCKER", "nft rule ip filter FORWARD 9",
        "nft policy ip filter FORWARD", "link br-0123456789ab", "link veth1a2b3c4",
        "sysctl /proc/sys/net/ipv4/ip_forward",
    ]  # reconcile's rcb- link and the old rule 3 are not Docker's doing


def test_undo_deletes_jumps_before_chains_and_restores_values(host: FakeHost) -> None:
    hostnet.undo(BEFORE)
    assert host.calls == [
        ["ip", "link", "delete", "br-0123456789ab"],
        ["ip", "link", "delete", "veth1a2b3c4"],
        ["nft", "delete", "rule", "ip", "filter", "FORWARD", "handle", "9"],
        ["nft", "flush", "chain", "ip", "filter", "DOCKER"],
        ["nft", "delete", "chain", "ip", "filter", "DOCKER"],
        ["nft", "delete", "table", "ip", "nat"],
        ["nft", "chain", "ip", "filter", "FORWARD", "{", "policy", "accept", ";", "}"],
    ]
    assert host.written == {"/proc/sys/net/ipv4/ip_forward": "0\n"}
