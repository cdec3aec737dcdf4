"""One stack file as read: its bytes, its data, and where each value came from.

Kept apart from loader.py (which brings PyYAML) so that the checks and the stack cache
(spec/stack_cache.py) use a file's data without importing the YAML parser: a no-op apply
of unchanged files never parses YAML.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.model.errors import Problem
from reconciler.model.records import field, record

MAX_FILE_BYTES = 1 << 20

JsonPath = tuple[str | int, ...]
Location = tuple[int, int]


@record
class LoadedFile:
    """One stack file: its data (None if unreadable) and where each value came from. A file
    served from the stack cache has no locations (`located` False): any problem or warning
    found in it is reported after reading it in full (spec/stacks.py)."""

    path: Path  # as given (used in messages)
    data: Any = None
    values: dict[JsonPath, Location] = field(default_factory=dict)
    keys: dict[JsonPath, Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    located: bool = True
    # Allowed input worth a second look, found while reading (a Compose key ignored here).
    warnings: list[Problem] = field(default_factory=list)
    # the application tags met (only those load_file was told to accept), by JSON path
    tags: dict[JsonPath, str] = field(default_factory=dict)

    def problem(self, where: JsonPath | None, message: str, *, at_key: bool = False) -> Problem:
        return Problem(*self.site(where, at_key=at_key), message)

    def site(self, where: JsonPath | None, *, at_key: bool = False) -> tuple[str, int, int]:
        """(file, line, column) of `where`: a file made from Compose files points into them."""
        return (str(self.path), *self.locate(where, at_key=at_key))

    def locate(self, where: JsonPath | None, *, at_key: bool = False) -> Location:
        if where is None:
            return (0, 0)
        table = self.keys if at_key else self.values
        path = where
        while path not in table and path:
            path = path[:-1]
            table = self.values
        return table.get(path, (1, 1))

    def canonical_json(self) -> str:
        """`data` as canonical JSON (sorted keys, no spaces, ASCII only), made once for the
        data it holds: the schema check's cache keys on it (spec/schema_check.py) and the
        string check scans it (spec/semantic_values.py), ~15 ms each for 500 services."""
        made: tuple[Any, str] | None = self.__dict__.get("_canonical")
        if made is None or made[0] is not self.data:
            made = (self.data, json.dumps(self.data, sort_keys=True, separators=(",", ":"),
                                          default=repr))
            self.__dict__["_canonical"] = made
        return made[1]


def read_raw(loaded: LoadedFile) -> bytes | None:
    """The file's bytes, or None with a problem recorded (unreadable, too large)."""
    try:
        size = loaded.path.stat().st_size
        if size > MAX_FILE_BYTES:
            loaded.problems.append(Problem(str(loaded.path), 0, 0, (
                f"file is {size / MAX_FILE_BYTES:.1f} MiB; stack files are limited to 1 MiB")))
            return None
        return loaded.path.read_bytes()
    except OSError as exc:
        loaded.problems.append(
            Problem(str(loaded.path), 0, 0, f"cannot read file: {exc.strerror or exc}"))
        return None


def iter_stack_files(paths: list[Path]) -> Iterator[tuple[Path, str | None]]:
    """Expand directories into their *.yaml / *.yml files, sorted. Yields (path, problem)."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            yield from ((p, None) for p in found if p.is_file())
        elif path.exists():
            yield path, None
        else:
            yield path, "no such file or directory"
