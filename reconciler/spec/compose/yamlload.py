"""One Compose file -> a tree of located nodes, with its `!reset` / `!override` paths.

The stack loader (spec/loader.py) does the YAML work: line and column of every key and
value, the YAML 1.2 core schema, anchors and `<<` merges, refusal of duplicate keys, unsafe
tags and alias bombs. Compose adds two tags of its own: `!reset` drops what earlier files
(or an extended service) set at that path, `!override` replaces it instead of merging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.model.errors import Problem
from reconciler.spec.compose.nodes import Node
from reconciler.spec.compose.project import JsonPath, Origin
from reconciler.spec.loader import LoadedFile, load_file

RESET = "!reset"
OVERRIDE = "!override"
COMPOSE_TAGS = frozenset({RESET, OVERRIDE})


@dataclass
class ComposeFile:
    path: Path
    root: Node | None = None  # None when the file could not be read
    resets: list[JsonPath] = field(default_factory=list)  # !reset and !override paths
    problems: list[Problem] = field(default_factory=list)


def load_compose_file(path: Path) -> ComposeFile:
    loaded = load_file(path, accepted_tags=COMPOSE_TAGS,
                       expected="expected a mapping with `services`")
    result = ComposeFile(path, problems=list(loaded.problems))
    if loaded.data is None or loaded.problems:
        return result
    if not isinstance(loaded.data, dict):
        line, col = loaded.locate(())
        result.problems.append(Problem(str(path), line, col,
                                       "a Compose file must be a mapping (with `services`)"))
        return result
    result.resets = sorted((p for p in loaded.tags), key=str)
    result.root = _build(loaded, loaded.data, ())
    return result


def _build(loaded: LoadedFile, value: Any, path: JsonPath) -> Node:
    origin = _origin(loaded, loaded.values.get(path))
    key = _origin(loaded, loaded.keys[path]) if path in loaded.keys else None
    if isinstance(value, dict):
        built = {k: _build(loaded, v, (*path, k)) for k, v in value.items()
                 if loaded.tags.get((*path, k)) != RESET}
        return Node(built, origin, key)
    if isinstance(value, list):
        items = [_build(loaded, v, (*path, i)) for i, v in enumerate(value)
                 if loaded.tags.get((*path, i)) != RESET]
        return Node(items, origin, key)
    return Node(value, origin, key)


def _origin(loaded: LoadedFile, location: tuple[int, int] | None) -> Origin:
    line, col = location or (0, 0)
    return Origin(str(loaded.path), line, col)
