"""Compose's merge rules (compose-go override/merge.go), for `-f` files and `extends`.

Mappings merge key by key; sequences append; scalars are replaced. Exceptions by path:
`command`, `entrypoint`, `healthcheck.test` are replaced; `environment`, `labels`,
`annotations`, `sysctls`, `dns*`, `tmpfs`, `env_file`, `build.args` ... are merged as
`KEY=VALUE` sequences whatever form each side uses (two mappings stay a mapping);
`depends_on` and `networks` merge as mappings (a list becomes a mapping); `build` as a
mapping (a string is its context); `logging` options merge only for the same driver;
`extra_hosts` append what is new. A mapping merged with a list (or the reverse) is an
error. After a merge, `unique.py` keeps one entry per key in the sequences Compose keys.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.spec.compose.nodes import (
    ComposeFailure,
    Node,
    at,
    dotted,
    go_text,
    matches,
    plain,
    problem_at,
)
from reconciler.spec.compose.project import JsonPath

Merger = Callable[[Node, Node, JsonPath], Node]

_AS_SEQUENCE = ("annotations", "build.args", "build.additional_contexts", "build.labels",
                "deploy.labels", "dns", "dns_opt", "dns_search", "env_file", "label_file",
                "environment", "labels", "volumes.*.volume.labels", "sysctls", "tmpfs")
_REPLACED = ("command", "entrypoint", "healthcheck.test")


def merge(base: Node | None, over: Node, path: JsonPath) -> Node:
    """`over` (a later file, or the extending service) merged onto `base`."""
    if base is None:
        return over
    special = _special(path)
    if special is not None:
        return special(base, over, path)
    if over.value is None:
        return base
    if isinstance(base.value, dict):
        return merge_mappings(base, over, path)
    if isinstance(base.value, list):
        if not isinstance(over.value, list):
            _incompatible(over, path, "list")
        return at(base, [*base.value, *over.value])
    return over


def merge_mappings(base: Node, over: Node, path: JsonPath) -> Node:
    if not isinstance(over.value, dict):
        _incompatible(over, path, "mapping")
    if not isinstance(base.value, dict):
        raise ComposeFailure(problem_at(over.origin, f"cannot merge `{dotted(path)}`: this "
                                        "file gives a mapping where what it merges onto has "
                                        "none (use `!override` to replace it)"))
    merged = dict(base.value)
    for key, value in over.value.items():
        merged[key] = merge(merged.get(key), value, (*path, key))
    return at(base, merged)


def _incompatible(over: Node, path: JsonPath, kind: str) -> None:
    raise ComposeFailure(problem_at(over.origin, f"cannot merge `{dotted(path)}`: it is a "
                                    f"{kind} in what this merges onto; give a {kind} here too "
                                    "(or `!override` to replace it)"))


def _special(path: JsonPath) -> Merger | None:
    if len(path) < 3 or path[0] != "services":
        if len(path) == 3 and path[0] in ("networks", "volumes") and path[2] == "labels":
            return _as_sequence
        return None
    tail = path[2:]
    for pattern, merger in _SERVICE_SPECIALS:
        if matches(tail, pattern):
            return merger
    return None


def _replace(base: Node, over: Node, path: JsonPath) -> Node:
    return over


def _as_sequence(base: Node, over: Node, path: JsonPath) -> Node:
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        return at(base, {**base.value, **over.value})
    return at(base, [*_sequence(base), *_sequence(over)])


def _sequence(node: Node) -> list[Node]:
    """A `KEY: value` mapping as Compose's sorted `KEY=value` list; a string as one item."""
    if isinstance(node.value, list):
        return list(node.value)
    if isinstance(node.value, dict):
        items: list[Node] = []
        for key, value in sorted(node.value.items()):
            if value.value is None:
                items.append(at(value, key))
            elif isinstance(value.value, list):
                items.extend(at(v, f"{key}={go_text(v.value)}") for v in value.value)
            else:
                items.append(at(value, f"{key}={go_text(value.value)}"))
        return items
    return [] if node.value is None else [node]


def _extra_hosts(base: Node, over: Node, path: JsonPath) -> Node:
    before = _sequence(base)
    seen = {repr(plain(item)) for item in before}
    return at(base, [*before, *(item for item in _sequence(over)
                                if repr(plain(item)) not in seen)])


def _as_mapping(default: dict[str, object] | None) -> Merger:
    def merger(base: Node, over: Node, path: JsonPath) -> Node:
        return merge_mappings(_mapping(base, default), _mapping(over, default), path)
    return merger


def _mapping(node: Node, default: dict[str, object] | None) -> Node:
    """`[a, b]` as `{a: default, b: default}` (depends_on, networks)."""
    if not isinstance(node.value, list):
        return node if isinstance(node.value, dict) else at(node, {})
    converted: dict[str, Node] = {}
    for item in node.value:
        value = None if default is None else {k: at(item, v) for k, v in default.items()}
        converted[go_text(item.value)] = Node(value, item.origin, item.origin)
    return at(node, converted)


def _build(base: Node, over: Node, path: JsonPath) -> Node:
    def as_mapping(node: Node) -> Node:
        if isinstance(node.value, str):
            return at(node, {"context": Node(node.value, node.origin, node.origin)})
        return node
    return merge_mappings(as_mapping(base), as_mapping(over), path)


def _logging(base: Node, over: Node, path: JsonPath) -> Node:
    if not (isinstance(base.value, dict) and isinstance(over.value, dict)):
        return over
    before, after = base.get("driver"), over.get("driver")
    if before is None or after is None or before.value == after.value:
        return merge_mappings(base, over, path)
    return over


_DEPENDENCY = {"condition": "service_started", "required": True}
_SERVICE_SPECIALS: list[tuple[tuple[str, ...], Merger]] = [
    *((tuple(p.split(".")), _replace) for p in _REPLACED),
    *((tuple(p.split(".")), _as_sequence) for p in _AS_SEQUENCE),
    (("extra_hosts",), _extra_hosts), (("build", "extra_hosts"), _extra_hosts),
    (("depends_on",), _as_mapping(_DEPENDENCY)), (("networks",), _as_mapping(None)),
    (("models",), _as_mapping(None)), (("build",), _build), (("logging",), _logging),
    (("ulimits", "*"), _replace),
]
