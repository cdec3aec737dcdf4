"""One Compose file -> a tree of located nodes, with its `!reset` / `!override` paths.

The stack loader (spec/loader.py) does the YAML work: line and column of every key and
value, the YAML 1.2 core schema, anchors and `<<` merges, refusal of duplicate keys, unsafe
tags and alias bombs. Compose adds two tags of its own: `!reset` drops what earlier files
(or an extended service) set at that path, `!override` replaces it instead of merging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.errors import Problem
from reconciler.model.records import field, record
from reconciler.spec.compose.nodes import Node, problem_at
from reconciler.spec.compose.project import JsonPath, Origin
from reconciler.spec.loader import (
    MAX_NODES,
    Constructor,
    LoadedFile,
    Refused,
    load_file,
    too_many_nodes,
)

RESET = "!reset"
OVERRIDE = "!override"
COMPOSE_TAGS = frozenset({RESET, OVERRIDE})


@record
class ComposeFile:
    """One Compose file as read: its located tree and its problems."""
    path: Path
    root: Node | None = None  # None when the file could not be read
    resets: list[JsonPath] = field(default_factory=list)  # !reset and !override paths
    problems: list[Problem] = field(default_factory=list)


class _NodeBuilder(Constructor):
    """The stack loader's walk, making located `Node`s directly (no by-path tables)."""

    def __init__(self, loaded: LoadedFile, loader: Any, accepted_tags: frozenset[str]) -> None:
        super().__init__(loaded, loader, accepted_tags)
        self.file = str(loaded.path)
        # (id of an anchored mapping, depth) -> its nodes and how many it counted
        self.merged: dict[tuple[int, int], tuple[dict[str, Node], int]] = {}

    def merge_source(self, node: Any, path: JsonPath, depth: int) -> dict[str, Node]:
        """An anchor merged with `<<` is made once per depth, its nodes shared by every
        mapping that merges it (500 services of the bench file merge one: ~5,000 of its
        ~18,000 nodes). Nodes are never changed once made, and the origins are the
        anchor's either way. Still counted at each use (alias bombs); made anew where
        it holds a `!reset` / `!override` tag (recorded by path) or a problem."""
        known = self.merged.get((id(node), depth))
        if known is not None:
            made, size = known
            self.count += size
            if self.count > MAX_NODES:
                raise Refused(too_many_nodes())
            return made
        count, problems, tags = self.count, len(self.loaded.problems), len(self.loaded.tags)
        made = self._mapping(node, path, depth)
        if (len(self.loaded.problems), len(self.loaded.tags)) == (problems, tags):
            self.merged[(id(node), depth)] = made, self.count - count
        return made

    def made(self, value: Any, node: Any, path: JsonPath) -> Node:
        mark = node.start_mark
        return Node(value, _origin(Origin, (self.file, mark.line + 1, mark.column + 1)))

    def keyed(self, key_node: Any, path: JsonPath, made: Node) -> None:
        mark = key_node.start_mark
        made.key = _origin(Origin, (self.file, mark.line + 1, mark.column + 1))

    def made_keyed(self, value: Any, node: Any, key_node: Any, path: JsonPath) -> Node:
        mark, key = node.start_mark, key_node.start_mark
        return Node(value, _origin(Origin, (self.file, mark.line + 1, mark.column + 1)),
                    _origin(Origin, (self.file, key.line + 1, key.column + 1)))


# Origin(file, line, column) without the named tuple's Python-level __new__ (which only
# passes its arguments on): two per value of a file, 0.16 instead of 0.4 us each
_origin = tuple.__new__


def load_compose_file(path: Path) -> ComposeFile:
    loaded = load_file(path, accepted_tags=COMPOSE_TAGS,
                       expected="expected a mapping with `services`", constructor=_NodeBuilder)
    result = ComposeFile(path, problems=list(loaded.problems))
    root: Node | None = loaded.data
    if root is None or loaded.problems:
        return result
    if not isinstance(root.value, dict):
        result.problems.append(problem_at(root.origin, "a Compose file must be a mapping "
                                          "(with `services`)"))
        return result
    result.resets = sorted((p for p in loaded.tags), key=str)
    reset = {p for p, tag in loaded.tags.items() if tag == RESET}
    result.root = _without(root, reset, ()) if reset else root
    return result


def _without(node: Node, reset: set[JsonPath], path: JsonPath) -> Node:
    """The tree without the values tagged `!reset` (they only drop what came before)."""
    if isinstance(node.value, dict):
        return Node({k: _without(v, reset, (*path, k)) for k, v in node.value.items()
                     if (*path, k) not in reset}, node.origin, node.key)
    if isinstance(node.value, list):
        return Node([_without(v, reset, (*path, i)) for i, v in enumerate(node.value)
                     if (*path, i) not in reset], node.origin, node.key)
    return node
