"""YAML -> plain Python data, with the line and column of every key and value.

PyYAML composes the node graph; we construct the data ourselves so that each value keeps
its location (addressed by its JSON path) and so that we can refuse duplicate keys, unsafe
tags and alias bombs. Scalars follow the YAML 1.2 core schema: `no`, `on` and `yes` stay
strings (so `restart: no` means what it says) and `80:80` is not a base-60 number.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.model.errors import Problem
from reconciler.spec.loaded import (  # re-exported: the loader's callers import them here
    MAX_FILE_BYTES,
    JsonPath,
    LoadedFile,
    Location,
    iter_stack_files,
    read_raw,
)

__all__ = ["MAX_FILE_BYTES", "JsonPath", "LoadedFile", "Location", "iter_stack_files",
           "load_file"]

MAX_NODES = 100_000
MAX_DEPTH = 100

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    STR_TAG,
}


class StackYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit typing."""


StackYamlLoader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (MERGE_TAG, r"^<<$", "<"),
):
    StackYamlLoader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    """YAML 1.2 integers: `010` is ten (1.1 read it as octal eight); `0o10` is eight."""
    text = str(node.value).replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    try:
        if digits[:2] in ("0o", "0x"):
            return sign * int(digits[2:], 8 if digits[1] == "o" else 16)
        return sign * int(digits, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid integer {node.value!r}", node.start_mark
        ) from None


StackYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


_IMPLICIT = StackYamlLoader.yaml_implicit_resolvers
assert None not in _IMPLICIT and not StackYamlLoader.yaml_path_resolvers  # resolve() below
_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
_MAPPING_TAG = "tag:yaml.org,2002:map"

def _implicit_tag(value: str) -> str:
    """The tag of a plain scalar: the first implicit resolver whose pattern matches."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag  # type: ignore[no-any-return]
    return STR_TAG


# libyaml parses ~10x faster; it is used when PyYAML was built with it. The pure-Python
# parser still words every syntax error, so messages do not depend on how PyYAML was built.
FastStackYamlLoader: type[Any] = StackYamlLoader
if getattr(yaml, "__with_libyaml__", False):

    class _CStackYamlLoader(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
        yaml_implicit_resolvers = StackYamlLoader.yaml_implicit_resolvers
        yaml_constructors = StackYamlLoader.yaml_constructors

        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            # plain scalar -> its tag: a file repeats its keys and values many times over
            self.resolved: dict[str, str] = {}

        def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
            """BaseResolver.resolve for these resolvers (no path resolvers, no wildcard
            ones), without its list concatenations: the C parser calls it per scalar."""
            if kind is ScalarNode:
                if implicit[0]:
                    tag = self.resolved.get(value)
                    if tag is None:
                        tag = self.resolved[value] = _implicit_tag(value)
                    return tag
                return STR_TAG
            return _SEQUENCE_TAG if kind is SequenceNode else _MAPPING_TAG

        # The C composer calls these two around every node to track path resolvers, which
        # these loaders have none of: C builtins that do nothing cost no Python call each.
        descend_resolver = staticmethod(operator.is_)  # type: ignore[assignment]
        ascend_resolver = staticmethod(tuple)  # type: ignore[assignment]

    FastStackYamlLoader = _CStackYamlLoader


class Refused(Exception):
    """Stop constructing: the document is too large or too deep."""


def too_many_nodes() -> str:
    return (f"document expands to more than {MAX_NODES} nodes (aliases nested too deep?); "
            "refusing to load it")


class Constructor:
    """PyYAML's node graph -> plain data, each value's and key's location recorded in
    `loaded.values` / `loaded.keys` by JSON path. A subclass may make other values of the
    same walk (the Compose loader's located nodes) by overriding `made` and `keyed`."""

    def __init__(self, loaded: LoadedFile, loader: yaml.SafeLoader,
                 accepted_tags: frozenset[str]) -> None:
        self.loaded = loaded
        self.loader = loader
        self.accepted_tags = accepted_tags
        self.count = 0

    def made(self, value: Any, node: Node, path: JsonPath) -> Any:
        """The result for the YAML `node` at `path` whose data is `value`."""
        self.loaded.values[path] = _mark(node)
        return value

    def keyed(self, key_node: Node, path: JsonPath, made: Any) -> None:
        """`made` (a result of `made`) is the value of the mapping key `key_node`."""
        self.loaded.keys[path] = _mark(key_node)

    def made_keyed(self, value: Any, node: Node, key_node: Node, path: JsonPath) -> Any:
        """`made`, then `keyed`, for a mapping's plain-string value (most values of a
        file): one call, which a subclass may make cheaper than the two."""
        made = self.made(value, node, path)
        self.keyed(key_node, path, made)
        return made

    def build(self, node: Node, path: JsonPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise Refused(too_many_nodes())
        if depth > MAX_DEPTH:
            raise Refused(f"document is nested deeper than {MAX_DEPTH} levels")
        if node.tag in self.accepted_tags:
            self.loaded.tags[path] = node.tag
            if isinstance(node, ScalarNode):  # read the value as if it were untagged
                implicit = self.loader.resolve(  # type: ignore[no-untyped-call]
                    ScalarNode, node.value, (True, False))
                node = ScalarNode(implicit,
                                  node.value, node.start_mark, node.end_mark, node.style)
        if isinstance(node, ScalarNode):
            value = node.value if node.tag == STR_TAG else self._scalar(node)
        elif isinstance(node, MappingNode):
            value = self._mapping(node, path, depth)
        else:
            value = self._sequence(node, path, depth)
        return self.made(value, node, path)

    def _sequence(self, node: Node, path: JsonPath, depth: int) -> list[Any]:
        items = []
        for i, item in enumerate(node.value):
            if (item.tag == STR_TAG and type(item) is ScalarNode
                    and self.count < MAX_NODES and depth < MAX_DEPTH):
                self.count += 1  # a plain string: what build() would do, without its call
                items.append(self.made(item.value, item, (*path, i)))
            else:
                items.append(self.build(item, (*path, i), depth + 1))
        return items

    def _scalar(self, node: Node) -> Any:
        """A scalar other than a string (those are the node's own text)."""
        if node.tag not in _SCALAR_TAGS:
            self._report(node, f"unsupported YAML tag `{node.tag}`")
            return None
        return self.loader.construct_object(node)

    def _mapping(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged = self._merge(value_node, path, depth) | merged
                continue
            if not isinstance(key_node, ScalarNode):
                self._report(key_node, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            if key in first_seen:
                line = first_seen[key].start_mark.line + 1
                self._report(key_node, f"duplicate key `{key}` (first defined at line {line})")
                continue
            first_seen[key] = key_node
            child = (*path, key)
            if (value_node.tag == STR_TAG and type(value_node) is ScalarNode
                    and self.count < MAX_NODES and depth < MAX_DEPTH):
                # most values are plain strings: what build() would do, without its call
                self.count += 1
                out[key] = self.made_keyed(value_node.value, value_node, key_node, child)
            else:
                made = self.build(value_node, child, depth + 1)
                out[key] = made
                self.keyed(key_node, child, made)
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _merge(self, node: Node, path: JsonPath, depth: int) -> dict[str, Any]:
        """`<<: *base` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self._report(source, "`<<` (merge) expects a mapping or a list of mappings")
                continue
            for key, value in self.merge_source(source, path, depth).items():
                result.setdefault(key, value)
        return result

    def merge_source(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        """The mapping a `<<` merges from (an anchor), made for the mapping at `path`."""
        return self._mapping(node, path, depth)

    def _report(self, node: Node, message: str) -> None:
        line, col = _mark(node)
        self.loaded.problems.append(Problem(str(self.loaded.path), line, col, message))


def _mark(node: Node) -> Location:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _decode(loaded: LoadedFile, raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        loaded.problems.append(Problem(str(loaded.path), 0, 0, "not a UTF-8 text file"))
        return None
    return text.removeprefix("\ufeff")


def _compose(loaded: LoadedFile, text: str) -> tuple[Any, Node | None]:
    fast = FastStackYamlLoader(text)
    try:
        return fast, fast.get_single_node()
    except yaml.YAMLError:
        fast.dispose()
    loader = StackYamlLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = exc.problem or "invalid YAML"
        if exc.context:
            message = f"{exc.context}: {message}"
        if "\t" in message or "'\\t'" in message:
            message += " (indent with spaces; YAML does not allow tabs)"
        loaded.problems.append(Problem(str(loaded.path), line, col, f"YAML syntax: {message}"))
    except yaml.YAMLError as exc:
        loaded.problems.append(Problem(str(loaded.path), 0, 0, f"YAML error: {exc}"))
    return loader, None


STACK_EXPECTED = "expected a mapping with `version` and `containers`"


def load_file(path: Path, raw: bytes | None = None, *,
              accepted_tags: frozenset[str] = frozenset(),
              expected: str = STACK_EXPECTED,
              constructor: type[Constructor] = Constructor) -> LoadedFile:
    """Read and construct one file; problems are collected on the result, never raised.
    `raw`: the file's bytes, already read (the stack cache keys them). `accepted_tags` are
    application tags (Compose's `!reset`, `!override`) recorded in `LoadedFile.tags`
    instead of refused; stack files accept none. `constructor` makes `data` (the
    Compose loader's makes located nodes instead of plain data and locations)."""
    loaded = LoadedFile(path)
    if raw is None:
        raw = read_raw(loaded)
    text = _decode(loaded, raw) if raw is not None else None
    if text is None:
        return loaded
    loader, node = _compose(loaded, text)
    try:
        if node is None:
            if not loaded.problems:
                loaded.problems.append(
                    Problem(
                        str(path),
                        0,
                        0,
                        f"file is empty; {expected}",
                    )
                )
            return loaded
        loaded.data = constructor(loaded, loader, accepted_tags).build(node, ())
    except Refused as exc:
        loaded.data = None
        loaded.problems.append(Problem(str(path), 0, 0, str(exc)))
    except yaml.YAMLError as exc:  # a scalar that does not construct, e.g. a bad `!!int`
        loaded.data = None
        loaded.problems.append(Problem(str(path), 0, 0, f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return loaded
