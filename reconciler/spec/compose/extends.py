"""`extends:` (compose-go loader/extends.go): a service starts from another one, in the same
file or in `file:`, chained as deep as wanted; the extending service is merged onto a copy
of its base with the usual merge rules, after the base lost what this file `!reset`s.
A cycle is refused with the whole chain named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.model.records import field, record
from reconciler.spec.compose.merge import merge
from reconciler.spec.compose.nodes import ComposeFailure, Node, at, clone, problem_at, shown
from reconciler.spec.compose.project import JsonPath

# Loads the file an `extends: file:` names: (path) -> (its services, its resets).
LoadBase = Callable[[Path], tuple[dict[str, Node], list[JsonPath]]]


@record
class Extender:
    """Resolves `extends:` chains, refusing cycles."""
    load_base: LoadBase
    chain: list[tuple[str, str]] = field(default_factory=list)  # (file, service)

    def apply(self, cfg: Node, file: Path, working_dir: Path, resets: list[JsonPath]) -> Node:
        services = cfg.get("services")
        if services is None or not services.is_map:
            return cfg
        table = dict(services.value)
        for name in list(table):
            table[name] = self._resolve(name, table, file, working_dir, resets)
        return at(cfg, {**cfg.value, "services": at(services, table)})

    def _resolve(self, name: str, services: dict[str, Node], file: Path, working_dir: Path,
                 resets: list[JsonPath]) -> Node:
        service = services[name]
        extends = service.get("extends")
        if extends is None:
            return service
        ref, base_file, written = self._target(name, extends)
        where = (str(file.absolute()), name)
        if where in self.chain:
            cycle = [*self.chain[self.chain.index(where):], where]
            raise ComposeFailure(problem_at(extends.origin, "extends cycle: " + " -> ".join(
                f"{s} ({Path(f).name})" for f, s in cycle)))
        base_services, base_resets, base_path = services, resets, file
        if base_file is not None:
            base_path = Path(base_file)
            if not base_path.is_absolute():
                base_path = working_dir / base_path
            base_services, base_resets = self.load_base(base_path)
        if ref not in base_services:
            raise ComposeFailure(problem_at(extends.origin, f"service `{name}` extends "
                                            f"`{written}`, which is not defined"))
        self.chain.append(where)
        try:
            base = self._resolve(ref, base_services, base_path,
                                 base_path.parent if base_file else working_dir, base_resets)
        finally:
            self.chain.pop()
        base_services[ref] = base
        source = drop_paths(clone(base), resets, ("services", name))
        merged = merge(source, service, ("services", name))
        merged = at(merged, {k: v for k, v in merged.value.items() if k != "extends"})
        services[name] = merged
        return merged

    def _target(self, name: str, extends: Node) -> tuple[str, str | None, str]:
        """The base's name, its file (None: this one), and both as written."""
        if isinstance(extends.value, str):
            return extends.value, None, shown(extends)
        if extends.is_map:
            service, file = extends.get("service"), extends.get("file")
            if (service is not None and isinstance(service.value, str)
                    and (file is None or isinstance(file.value, str))):
                if file is None:
                    return service.value, None, shown(service)
                return service.value, file.value, f"{shown(service)}` in `{shown(file)}"
        raise ComposeFailure(problem_at(extends.origin, f"`services.{name}.extends` must be "
                                        "a service name or a mapping with `service` "
                                        "(and optionally `file`)"))


def drop_paths(node: Node, paths: list[JsonPath], prefix: JsonPath) -> Node:
    """`node` (found at `prefix`) without the keys `!reset` or `!override` marked."""
    for path in paths:
        if len(path) > len(prefix) and path[:len(prefix)] == prefix:
            node = _drop(node, path[len(prefix):])
    return node


def _drop(node: Node, rest: JsonPath) -> Node:
    if not node.is_map or rest[0] not in node.value:
        return node
    if len(rest) == 1:
        return at(node, {k: v for k, v in node.value.items() if k != rest[0]})
    key = str(rest[0])
    return at(node, {**node.value, key: _drop(node.value[key], rest[1:])})
