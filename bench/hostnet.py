"""The host's networking state before a dockerd with its iptables on, and the undoing of
what that dockerd left: it never removes its own rules, chains or sysctl changes.

    before = snapshot()          # before dockerd starts
    ...                          # dockerd runs, compose up/down, dockerd stops
    undo(before)                 # delete what is new, put changed values back
    leftovers(before) == []      # what still differs (the check)

Only Docker's kinds of objects are touched, so the work of anything else running at the
same time (reconcile's `inet reconcile` table, its `rcb-*`/`rc*` links) is left alone:
nft objects of the `ip`/`ip6` families (iptables-nft: Debian 12's iptables writes to the
nft tables `ip nat`, `ip filter`), links named like Docker's (`docker0`, `br-<12 hex>`,
`veth<7 hex>`), and the sysctls it sets (ip_forward, the bridge-nf-call ones).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

DOCKER_FAMILIES = ("ip", "ip6")
DOCKER_LINK = re.compile(r"^(docker0|br-[0-9a-f]{12}|veth[0-9a-f]{7})$")
SYSCTLS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables",
           "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
           "/proc/sys/net/bridge/bridge-nf-call-arptables")

Snapshot = dict[str, Any]


def _nft_objects() -> dict[str, list[dict[str, Any]]]:
    """tables, chains and rules of the Docker families, as nft's JSON gives them."""
    done = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True,
                          check=True)
    found: dict[str, list[dict[str, Any]]] = {"table": [], "chain": [], "rule": []}
    for item in json.loads(done.stdout).get("nftables", []):
        for kind, body in item.items():
            if kind in found and body.get("family") in DOCKER_FAMILIES:
                found[kind].append(body)
    return found


def _links() -> list[str]:
    done = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True,
                          check=True)
    return sorted(link["ifname"] for link in json.loads(done.stdout))


def _sysctls() -> dict[str, str]:
    return {path: Path(path).read_text().strip() for path in SYSCTLS if Path(path).exists()}


def snapshot() -> Snapshot:
    return {"nft": _nft_objects(), "links": _links(), "sysctls": _sysctls()}


def _table_key(body: dict[str, Any]) -> tuple[str, str]:
    return body["family"], body.get("table", body.get("name", ""))


def _chain_key(body: dict[str, Any]) -> tuple[str, str, str]:
    return body["family"], body["table"], body.get("chain", body.get("name", ""))


def _rule_key(body: dict[str, Any]) -> tuple[str, str, str, int]:
    return body["family"], body["table"], body["chain"], body["handle"]


def _new_nft(before: Snapshot) -> tuple[list[Any], list[Any], list[Any]]:
    """(new tables, new chains in old tables, new rules in old chains)."""
    now, old = _nft_objects(), before["nft"]
    old_tables = {_table_key(t) for t in old["table"]}
    old_chains = {_chain_key(c) for c in old["chain"]}
    old_rules = {_rule_key(r) for r in old["rule"]}
    tables = [t for t in now["table"] if _table_key(t) not in old_tables]
    chains = [c for c in now["chain"] if _table_key(c) in old_tables
              and _chain_key(c) not in old_chains]
    rules = [r for r in now["rule"] if _chain_key(r) in old_chains
             and _rule_key(r) not in old_rules]
    return tables, chains, rules


def _changed_policies(before: Snapshot) -> list[dict[str, Any]]:
    """Old base chains whose policy changed (dockerd sets filter FORWARD to drop when it
    turned ip_forward on itself)."""
    old = {_chain_key(c): c.get("policy") for c in before["nft"]["chain"]}
    return [dict(c, policy=old[_chain_key(c)]) for c in _nft_objects()["chain"]
            if _chain_key(c) in old and c.get("policy") != old[_chain_key(c)]]


def _nft(*words: str) -> None:
    subprocess.run(["nft", *words], capture_output=True, check=False)


def _undo_nft(before: Snapshot) -> None:
    tables, chains, rules = _new_nft(before)
    for rule in rules:  # jumps into the new chains first, so the chains can go
        family, table, chain, handle = _rule_key(rule)
        _nft("delete", "rule", family, table, chain, "handle", str(handle))
    for chain in chains:
        _nft("flush", "chain", *_chain_key(chain))
    for chain in chains:
        _nft("delete", "chain", *_chain_key(chain))
    for table in tables:
        _nft("delete", "table", *_table_key(table))
    for changed in _changed_policies(before):
        family, table, name = _chain_key(changed)
        _nft("chain", family, table, name, "{", "policy", str(changed["policy"]), ";", "}")


def _new_links(before: Snapshot) -> list[str]:
    return [name for name in _links()
            if name not in before["links"] and DOCKER_LINK.match(name)]


def _changed_sysctls(before: Snapshot) -> dict[str, str]:
    now = _sysctls()
    return {path: value for path, value in before["sysctls"].items()
            if now.get(path, value) != value}


def undo(before: Snapshot) -> None:
    """Deletes what Docker's networking added since `before` and puts values back."""
    for name in _new_links(before):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
    _undo_nft(before)
    for path, value in _changed_sysctls(before).items():
        Path(path).write_text(value + "\n")


def leftovers(before: Snapshot) -> list[str]:
    """What still differs from `before` in the objects undo() looks after."""
    tables, chains, rules = _new_nft(before)
    found = [f"nft table {' '.join(_table_key(t))}" for t in tables]
    found += [f"nft chain {' '.join(_chain_key(c))}" for c in chains]
    found += [f"nft rule {' '.join(map(str, _rule_key(r)))}" for r in rules]
    found += [f"nft policy {' '.join(_chain_key(c))}" for c in _changed_policies(before)]
    found += [f"link {name}" for name in _new_links(before)]
    found += [f"sysctl {path}" for path in _changed_sysctls(before)]
    return found
