"""Which inputs the given paths are: stack files, or Compose projects.

A Compose file (compose.yaml, docker-compose.yml, or any file whose top level has
`services:` and no `containers:`) is loaded as a Compose project and mapped onto stack data
(spec/compose/, imported only then); `compose` carries the `-f` files that form one project
and the Compose options. A stack file is yielded as its path: spec/stacks.py reads it, from
the stack cache when its bytes are known.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model.errors import Problem
from reconciler.spec.loaded import LoadedFile, iter_stack_files

if TYPE_CHECKING:
    from reconciler.spec.compose.entry import ComposeRequest

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def stack_inputs(
    paths: Sequence[str | Path], compose: ComposeRequest | None
) -> Iterator[Path | LoadedFile | Problem]:
    """Each input: a stack file's path, a loaded Compose project, or a problem."""
    if compose is not None and compose.files:
        missing = [f for f in compose.files if not f.is_file()]
        yield from (Problem(str(f), 0, 0, "no such file") for f in missing)
        if not missing:
            yield load_compose([*compose.files], compose)
    for given in map(Path, paths):
        overrides = _overrides(given) if given.is_dir() else []
        for path, missing_path in iter_stack_files([given]):
            if missing_path:
                yield Problem(str(path), 0, 0, missing_path)
            elif path.name in COMPOSE_NAMES:
                yield load_compose([path, *overrides[:1]], compose)
            elif path not in overrides:
                yield path


def is_compose_data(data: Any) -> bool:
    """A file read as YAML is a Compose file by its top level: `services:`, no `containers:`."""
    return isinstance(data, dict) and "services" in data and "containers" not in data


def load_compose(files: list[Path], compose: ComposeRequest | None) -> LoadedFile:
    from reconciler.spec.compose.entry import ComposeRequest, load_compose_file

    return load_compose_file(files, compose or ComposeRequest())


def _overrides(folder: Path) -> list[Path]:
    """In a folder, a Compose file's override file (compose.override.yaml ...) is merged
    into it, as `docker compose` does in that folder; it is no project of its own."""
    if not any((folder / name).is_file() for name in COMPOSE_NAMES):
        return []
    from reconciler.spec.compose.discover import OVERRIDE_FILES

    return [folder / name for name in OVERRIDE_FILES if (folder / name).is_file()]
