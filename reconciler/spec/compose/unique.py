"""One entry per key in the sequences Compose keys (compose-go override/uncity.go).

After each merge, a later entry with the same key replaces the earlier one in the earlier
one's place: `environment`/`labels` by name, `volumes` and `devices` by target, `secrets`
and `configs` by target (default `/run/secrets/<source>`, `/<source>`), `ports` by host
address, published port, target and protocol, `env_file` by path. Compose compares ports
and volumes in its long form; the short forms are read here into the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.spec.compose.nodes import TREES, Node, PatternTree, at, go_text, same

Indexer = Callable[[Any], str]


def _key_value(value: Any) -> str:
    return go_text(value).split("=", 1)[0]


def volume_target(value: Any) -> str:
    """The target of a volume, as Compose's ParseVolume reads the short form: a single
    letter before `:` is a Windows drive (`c:/data`), even on Linux, so `v:/a` is a target."""
    if isinstance(value, dict):
        return go_text(_plain(value.get("target")))
    text = go_text(value)
    parts = text.split(":")
    if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha():
        parts = [f"{parts[0]}:{parts[1]}", *parts[2:]]
    if len(parts) > 2 and len(parts[1]) == 1 and parts[1].isalpha():
        parts = [parts[0], f"{parts[1]}:{parts[2]}", *parts[3:]]
    return parts[0] if len(parts) == 1 else parts[1]


def _device_target(value: Any) -> str:
    if isinstance(value, dict):
        return go_text(_plain(value.get("target")))
    parts = go_text(value).split(":")
    return parts[0] if len(parts) == 1 else parts[1]


def _mount(default_dir: str) -> Indexer:
    def index(value: Any) -> str:
        if isinstance(value, dict):
            target = _plain(value.get("target"))
            if target is not None:
                return go_text(target)
            return f"{default_dir}/{go_text(_plain(value.get('source')))}"
        return f"{default_dir}/{go_text(value)}"
    return index


def port_key(value: Any) -> str:
    """`[host_ip:][published:]target[/protocol]` or its long form, as one comparable key."""
    if isinstance(value, dict):
        fields = {k: _plain(v) for k, v in value.items()}
        return "|".join(go_text(fields.get(k)) or default for k, default in
                        (("host_ip", "0.0.0.0"), ("published", ""), ("target", ""),
                         ("protocol", "tcp")))
    address, _, protocol = go_text(value).partition("/")
    parts = address.split(":")
    if address.startswith("["):  # [::1]:8080:80
        closing = address.find("]")
        parts = [address[1:closing], *address[closing + 2:].split(":")]
    host_ip, published, target = ["0.0.0.0", "", *parts][-3:] if len(parts) < 3 else parts[:3]
    return "|".join((host_ip or "0.0.0.0", published, target, protocol or "tcp"))


def _env_file(value: Any) -> str:
    if isinstance(value, dict):
        return go_text(_plain(value.get("path")))
    return go_text(value)


def _plain(node: Any) -> Any:
    return node.value if isinstance(node, Node) else node


_KEYED = ("annotations", "build.args", "build.additional_contexts", "build.platform",
          "build.tags", "build.labels", "cap_add", "cap_drop", "deploy.labels", "dns",
          "dns_opt", "dns_search", "environment", "labels", "links", "networks.*.aliases",
          "networks.*.link_local_ips", "profiles", "sysctls", "tmpfs")
_INDEXERS: PatternTree[Indexer] = PatternTree([
    *((("services", "*", *p.split(".")), _key_value) for p in _KEYED),
    (("services", "*", "devices"), _device_target), (("services", "*", "configs"), _mount("")),
    (("services", "*", "secrets"), _mount("/run/secrets")),
    (("services", "*", "env_file"), _env_file), (("services", "*", "expose"), go_text),
    (("services", "*", "ports"), port_key), (("services", "*", "volumes"), volume_target),
    (("networks", "*", "labels"), _key_value), (("networks", "*", "ipam", "options"), _key_value),
])


def enforce_unique(node: Node, level: PatternTree[Indexer] | None = _INDEXERS) -> Node:
    """The tree with one entry per key in each keyed sequence; the walk goes only where a
    keyed sequence can be (`level`: the patterns seen from the node), and a part without
    duplicates stays the same node."""
    if isinstance(node.value, dict):
        if level is None or not level.leads_on:
            return node
        table = {k: enforce_unique(v, below)
                 if isinstance(v.value, TREES) and (below := level.below(k)) is not None
                 else v for k, v in node.value.items()}
        return node if same(table.values(), node.value.values()) else at(node, table)
    if not isinstance(node.value, list):
        return node
    index = level.value if level is not None else None
    if index is None:
        return node
    kept: list[Node] = []
    where: dict[str, int] = {}
    for item in node.value:
        key = index(item.value)
        if key in where:
            kept[where[key]] = item
        else:
            where[key] = len(kept)
            kept.append(item)
    return node if len(kept) == len(node.value) else at(node, kept)
