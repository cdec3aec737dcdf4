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
from collections.abc import Collection, Iterable
from typing import Any, Generic, TypeVar

from reconciler.model.errors import Problem
from reconciler.spec.compose.project import JsonPath, Origin


class Node:
    """A Compose value with the place it was written. Slotted, compared by identity:
    ~20,000 of them in a 500-service file."""

    __slots__ = ("key", "origin", "value", "written")

    def __init__(self, value: Any, origin: Origin, key: Origin | None = None,
                 written: str | None = None) -> None:
        self.value = value  # None | bool | int | float | str | dict[str, Node] | list[Node]
        self.origin = origin
        self.key = key
        # the text as written when interpolation changed it: messages show this one, so
        # that they never carry a variable's value
        self.written = written

    def __repr__(self) -> str:
        return (f"Node(value={self.value!r}, origin={self.origin!r}, key={self.key!r}, "
                f"written={self.written!r})")

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


class PatternTree(Generic[T]):
    """Compose's path patterns (`*` for any one mapping key or list index) -> values, as a
    tree of path segments. A walk carries its level down (`below`), so a value's entry is
    one lookup per depth, and a part of the tree that no pattern reaches (None) is known
    to hold none. No level has both `*` and named keys: one path matches one pattern."""

    __slots__ = ("any", "keys", "value")

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], T]] = ()) -> None:
        self.value: T | None = None  # the value of the pattern that ends here
        self.keys: dict[str, PatternTree[T]] = {}
        self.any: PatternTree[T] | None = None
        for pattern, value in entries:
            self.add(pattern, value)

    def add(self, pattern: tuple[str, ...], value: T) -> None:
        level = self
        for segment in pattern:
            if segment == "*":
                level.any = level.any or PatternTree()
                deeper = level.any
            else:
                deeper = level.keys.setdefault(segment, PatternTree())
            if level.any and level.keys:  # two patterns could match one path
                raise ValueError(f"`*` beside named keys in the patterns: {pattern}")
            level = deeper
        level.value = value

    def below(self, key: str | int) -> PatternTree[T] | None:
        """The level of a mapping key or list index under this one."""
        return self.any if self.any is not None else self.keys.get(key)  # type: ignore[arg-type]

    @property
    def leads_on(self) -> bool:
        """Some pattern goes deeper than this level."""
        return self.any is not None or bool(self.keys)


def go_text(value: Any) -> str:
    """A scalar written as Go's `%v` writes it (Compose turns `KEY: 1` into "KEY=1")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return "" if value is None else str(value)
