"""Compose data as a tree of located nodes, so that every value keeps the place it was
written at through interpolation, merge, `include` and `extends`.

A `Node` holds a scalar, a `dict[str, Node]` or a `list[Node]`; `origin` is where the value
was written and `key` where its mapping key was (None for list items and the root). Each
stage builds new nodes or reuses the user's own; at the end the tree becomes the plain
data of a `ComposeProject`, and its by-path origin tables are made from it when a message
first needs one.
"""

from __future__ import annotations

import operator
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from reconciler.model.errors import Problem
from reconciler.spec.compose.project import JsonPath, Origin


@dataclass(eq=False, slots=True)  # ~20,000 of them in a 500-service file
class Node:
    """A Compose value with the place it was written."""
    value: Any  # None | bool | int | float | str | dict[str, Node] | list[Node]
    origin: Origin
    key: Origin | None = None
    # the text as written when interpolation changed it: messages show this one, so that
    # they never carry a variable's value
    written: str | None = None

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def get(self, name: str) -> Node | None:
        return self.value.get(name) if isinstance(self.value, dict) else None


class ComposeFailure(Exception):
    """Stop loading: the input cannot be processed further (a cycle, a missing file)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def shown(node: Node) -> str:
    """The value as its user wrote it, for a message."""
    return node.written if node.written is not None else go_text(node.value)


def problem_at(origin: Origin, message: str, *, warning: bool = False) -> Problem:
    return Problem(origin.file, origin.line, origin.column, message,
                   "warning" if warning else "error")


def at(node: Node, value: Any) -> Node:
    """A new value written where `node` was (a converted form keeps the user's place)."""
    return Node(value, node.origin, node.key)


def same(new: Collection[Node], old: Collection[Node]) -> bool:
    """The same node objects, one for one: a walk that changed nothing keeps the old node.
    (map over operator.is_: no Python frame per item, as a generator would have.)"""
    return len(new) == len(old) and all(map(operator.is_, new, old))


def clone(node: Node) -> Node:
    """A deep copy: merges rebuild mappings in place, and a base is shared by extenders."""
    if isinstance(node.value, dict):
        return at(node, {k: clone(v) for k, v in node.value.items()})
    if isinstance(node.value, list):
        return at(node, [clone(v) for v in node.value])
    return at(node, node.value)


TREES = (dict, list)  # the values that hold nodes; the walks take any other as it is


def plain(node: Node | None) -> Any:
    if node is None:
        return None
    if isinstance(node.value, dict):
        return {k: plain(v) if isinstance(v.value, TREES) else v.value
                for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) if isinstance(v.value, TREES) else v.value for v in node.value]
    return node.value


def dotted(path: JsonPath) -> str:
    return ".".join(str(p) for p in path)


def matches(path: JsonPath, pattern: tuple[str, ...]) -> bool:
    """Compose's path patterns: `*` stands for any one mapping key or list index."""
    return len(path) == len(pattern) and all(
        want in ("*", got) for got, want in zip(path, pattern, strict=True))


T = TypeVar("T")


Fixed = tuple[tuple[int, str], ...]  # a pattern's segments other than `*`, by position


class PatternTable(Generic[T]):
    """Path patterns (`*` for any one key or index) -> values, found by the path's length
    and last segment first: a lookup per value of a large file stays cheap. `leads_to`
    tells whether a pattern could match below a path (a walk need not go further)."""

    def __init__(self, entries: list[tuple[tuple[str, ...], T]]) -> None:
        self.buckets: dict[tuple[int, str], list[tuple[Fixed, T]]] = {}
        self.prefixes: dict[tuple[int, str], list[tuple[Fixed, T]]] = {}
        for pattern, value in entries:
            for end in range(1, len(pattern) + 1):
                table = self.buckets if end == len(pattern) else self.prefixes
                fixed = tuple((i, want) for i, want in enumerate(pattern[:end]) if want != "*")
                table.setdefault((end, pattern[end - 1]), []).append((fixed, value))

    def find(self, path: JsonPath) -> T | None:
        return _find(self.buckets, path)

    def leads_to(self, path: JsonPath) -> bool:
        """Some pattern is longer than `path` and begins like it."""
        return not path or _find(self.prefixes, path) is not None


def _find(buckets: dict[tuple[int, str], list[tuple[Fixed, T]]], path: JsonPath) -> T | None:
    if not path:
        return None
    last = path[-1]
    for bucket in (buckets.get((len(path), last if isinstance(last, str) else str(last))),
                   buckets.get((len(path), "*"))):
        for fixed, value in bucket or ():
            if _fits(path, fixed):
                return value
    return None


def _fits(path: JsonPath, fixed: Fixed) -> bool:
    # a loop, not all(...): a generator is ten times slower here, once per value of a file
    for i, want in fixed:  # noqa: SIM110
        if path[i] != want:
            return False
    return True


def go_text(value: Any) -> str:
    """A scalar written as Go's `%v` writes it (Compose turns `KEY: 1` into "KEY=1")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return "" if value is None else str(value)
