"""nftables through its JSON interface: one table, `inet reconcile`, for everything.

Each stack owns four base chains in that table, named `<stack>-<id>-<hook>` (id: the
stack network's 8-hex id, so two state dirs with a stack of the same name never share a
chain): `pre` (nat prerouting: DNAT of published ports arriving from outside), `out` (nat
output: DNAT of locally generated connections, 127.0.0.1 included), `post` (nat
postrouting: masquerade of the subnet going out, and of 127.0.0.0/8 sources sent to the
bridge) and `fwd` (filter forward: accept to and from the bridge). Base chains rather than
jumps from shared chains: removing a stack is deleting its chains, nothing else to edit.

Every rule carries a comment naming what it is for: `stack:<what>` for the stack's own
rules, `<container> <port>/<proto>` for a published port. Observe compares those
comments with what must be there. Rules are built pure here; `run` feeds them to
`nft -j -f -` as one transaction.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model.desired import PortMapping
from reconciler.model.errors import DriverError, RuntimeMissing
from reconciler.model.records import record

FAMILY = "inet"
TABLE = "reconcile"
# hook -> (chain type, hook name, priority)
HOOKS = {
    "pre": ("nat", "prerouting", -100),
    "out": ("nat", "output", -100),
    "post": ("nat", "postrouting", 100),
    "fwd": ("filter", "forward", 0),
}

Cmd = dict[str, Any]


@record(frozen=True)
class StackChains:
    stack: str
    net_id: str
    subnet: str  # "10.89.3.0/24"
    bridge: str

    def chain(self, hook: str) -> str:
        return f"{self.stack}-{self.net_id}-{hook}"

    @property
    def chains(self) -> list[str]:
        return [self.chain(h) for h in HOOKS]


def _match(left: Any, right: Any, op: str = "==") -> Cmd:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol: str, name: str) -> Cmd:
    return {"payload": {"protocol": protocol, "field": name}}


def _prefix(cidr: str) -> Cmd:
    addr, length = cidr.split("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def _rule(chains: StackChains, hook: str, comment: str, expr: list[Any]) -> Cmd:
    return {"rule": {"family": FAMILY, "table": TABLE, "chain": chains.chain(hook),
                     "expr": expr, "comment": comment}}  # fmt: skip


def stack_rules(chains: StackChains) -> list[Cmd]:
    """The stack's own rules (not per container), keyed by their comments."""
    bridge_out = _match({"meta": {"key": "oifname"}}, chains.bridge)
    ipv4 = _match({"meta": {"key": "nfproto"}}, "ipv4")
    return [
        _rule(chains, "post", "stack:masquerade outbound", [
            ipv4, _match(_payload("ip", "saddr"), _prefix(chains.subnet)),
            _match({"meta": {"key": "oifname"}}, chains.bridge, "!="), {"masquerade": None},
        ]),
        _rule(chains, "post", "stack:masquerade localhost", [
            ipv4, _match(_payload("ip", "saddr"), _prefix("127.0.0.0/8")), bridge_out,
            {"masquerade": None},
        ]),
        _rule(chains, "fwd", "stack:accept from bridge", [
            _match({"meta": {"key": "iifname"}}, chains.bridge), {"accept": None},
        ]),
        _rule(chains, "fwd", "stack:accept to bridge", [bridge_out, {"accept": None}]),
    ]  # fmt: skip


def port_comment(container: str, port: PortMapping) -> str:
    host = f"{port.host_ip}:" if port.host_ip else ""
    return f"{container} {host}{port.host_port}/{port.protocol}"


def port_rules(
    chains: StackChains, container: str, address: str, ports: Iterable[PortMapping]
) -> list[Cmd]:
    """DNAT of each published port, in `pre` (from outside) and `out` (from this host)."""
    rules = []
    for port in ports:
        if port.host_ip:
            where = _match(_payload("ip", "daddr"), port.host_ip)
        else:  # any address of this host, not traffic merely routed through it
            where = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
        expr = [
            _match({"meta": {"key": "nfproto"}}, "ipv4"),
            where,
            _match(_payload(port.protocol, "dport"), port.host_port),
            {"dnat": {"family": "ip", "addr": address, "port": port.container_port}},
        ]
        for hook in ("pre", "out"):
            rules.append(_rule(chains, hook, port_comment(container, port), expr))
    return rules


def table_cmd() -> Cmd:
    return {"add": {"table": {"family": FAMILY, "name": TABLE}}}


def chain_cmds(chains: StackChains) -> list[Cmd]:
    cmds = []
    for hook, (kind, hook_name, prio) in HOOKS.items():
        cmds.append({"add": {"chain": {
            "family": FAMILY, "table": TABLE, "name": chains.chain(hook), "type": kind,
            "hook": hook_name, "prio": prio, "policy": "accept",
        }}})  # fmt: skip
    return cmds


def delete_rule_cmd(chain: str, handle: int) -> Cmd:
    return {"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain,
                                "handle": handle}}}  # fmt: skip


def delete_chain_cmds(chain: str) -> list[Cmd]:
    where = {"family": FAMILY, "table": TABLE, "name": chain}
    return [{"flush": {"chain": where}}, {"delete": {"chain": where}}]


def delete_table_cmd() -> Cmd:
    return {"delete": {"table": {"family": FAMILY, "name": TABLE}}}


@record(frozen=True)
class RuleFact:
    chain: str
    comment: str
    handle: int


@record(frozen=True)
class TableFacts:
    exists: bool
    chains: frozenset[str]
    rules: tuple[RuleFact, ...]

    def comments(self, chain: str) -> set[str]:
        return {r.comment for r in self.rules if r.chain == chain}


def parse_table(listing: Mapping[str, Any]) -> TableFacts:
    chains, rules, exists = set(), [], False
    for item in listing.get("nftables", []):
        if "table" in item:
            exists = True
        elif "chain" in item:
            chains.add(item["chain"]["name"])
        elif "rule" in item:
            rule = item["rule"]
            rules.append(RuleFact(rule["chain"], rule.get("comment", ""), int(rule["handle"])))
    return TableFacts(exists, frozenset(chains), tuple(rules))


def _nft(args: list[str], document: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["nft", "-j", *args], input=document, capture_output=True,
                              text=True, check=False, timeout=30)  # fmt: skip
    except FileNotFoundError as e:
        raise RuntimeMissing("nft not found: install the nftables package") from e


def run(cmds: list[Cmd], target: str) -> None:
    """Apply `cmds` as one nftables transaction (all or nothing)."""
    if not cmds:
        return
    done = _nft(["-f", "-"], json.dumps({"nftables": cmds}))
    if done.returncode != 0:
        raise DriverError(target, f"nft failed: {done.stderr.strip()}")


def read_table() -> TableFacts:
    done = _nft(["list", "table", FAMILY, TABLE])
    if done.returncode != 0:  # no such table
        return TableFacts(False, frozenset(), ())
    return parse_table(json.loads(done.stdout or "{}"))
