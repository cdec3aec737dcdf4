"""Room for our bridges in Docker's firewall.

A dockerd that turns IPv4 forwarding on itself also sets the policy of iptables' FORWARD
chain to drop. That chain is a base chain of its own: the accept in our `inet reconcile`
table does not override its drop, so traffic routed to or from a stack's bridge (a
published port reached from another host, a container's connection out, and with
br_netfilter loaded even traffic between two containers on one bridge) is dropped.
Docker's place for other tools is its DOCKER-USER chain, which FORWARD jumps to first:
where that chain exists, each stack's bridge gets one `-i <bridge> -j ACCEPT` and one
`-o <bridge> -j ACCEPT` there, commented `reconcile:<bridge>`, removed with the bridge.

Through the `iptables` command rather than nft: it is what dockerd itself runs (legacy or
nft backend alike), and dockerd fails on a chain holding rules its iptables cannot read.
No iptables, or no DOCKER-USER chain: nothing to do. Our own table still decides what it
accepts: these rules only lift Docker's drop.
"""

from __future__ import annotations

import shlex
import subprocess

from reconciler.model.errors import DriverError
from reconciler.model.records import record

CHAIN = "DOCKER-USER"
DIRECTIONS = ("-i", "-o")  # traffic from the bridge, traffic to it


def comment(bridge: str) -> str:
    return f"reconcile:{bridge}"


def rule_args(bridge: str, direction: str) -> list[str]:
    return [direction, bridge, "-m", "comment", "--comment", comment(bridge), "-j", "ACCEPT"]


def _iptables(args: list[str]) -> subprocess.CompletedProcess[str] | None:
    """None without an iptables command (then dockerd cannot have set its drop either)."""
    try:
        return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                              check=False, timeout=30)  # fmt: skip
    except FileNotFoundError:
        return None


@record(frozen=True)
class DockerChain:
    """What of iptables' filter table matters here, from one `iptables -S`."""

    rules: tuple[tuple[str, ...], ...]  # DOCKER-USER's, as words (unquoted)
    forward_drops: bool  # FORWARD's policy: only then are our accepts needed

    def missing(self, bridge: str) -> list[str]:
        """The directions of `bridge` that have no rule of ours here."""
        have = {_ours(rule, bridge) for rule in self.rules}
        return [d for d in DIRECTIONS if d not in have]


def read() -> DockerChain | None:
    """Docker's chain as found, or None: no such chain (or none iptables can read, which
    dockerd could not use either)."""
    done = _iptables(["-S"])
    if done is None or done.returncode != 0:
        return None
    lines = done.stdout.splitlines()
    if f"-N {CHAIN}" not in lines:
        return None
    rules = tuple(tuple(shlex.split(line)) for line in lines if line.startswith(f"-A {CHAIN} "))
    return DockerChain(rules, "-P FORWARD DROP" in lines)


def _ours(rule: tuple[str, ...], bridge: str) -> str | None:
    """The direction of one of our rules for `bridge`, else None."""
    if "--comment" not in rule or rule[rule.index("--comment") + 1] != comment(bridge):
        return None
    return next((d for d in DIRECTIONS if d in rule and rule[rule.index(d) + 1] == bridge), None)


def ensure(bridge: str) -> None:
    """Our two accepts for `bridge` at the top of DOCKER-USER, where that chain exists
    (whatever FORWARD's policy is now: a firewall tool may set it to drop later)."""
    chain = read()
    if chain is None:
        return
    for direction in chain.missing(bridge):
        _change(["-I", CHAIN, *rule_args(bridge, direction)], bridge)


def remove(bridge: str) -> None:
    """Every rule of ours for `bridge` (duplicates too, say of two setups racing a crash)."""
    chain = read()
    for rule in chain.rules if chain else ():
        if _ours(rule, bridge) is not None:
            _change(["-D", *rule[1:]], bridge)


def _change(args: list[str], bridge: str) -> None:
    done = _iptables(args)
    if done is not None and done.returncode != 0:
        raise DriverError(bridge, f"iptables failed on Docker's {CHAIN} chain: "
                          f"{done.stderr.strip()}")  # fmt: skip
