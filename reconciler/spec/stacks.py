"""Public API of the input half: stack files -> validated, normalized `Desired`.

    load_stacks(paths) -> Desired        raises SpecError with every problem found; risky
                                         settings ride on it as warnings (spec/risks.py)
    validate_paths(paths) -> [Problem]   the same checks, problems returned

A Compose file (compose.yaml, docker-compose.yml, or any file whose top level has
`services:` and no `containers:`) is loaded as a Compose project and mapped onto stack data
first (spec/compose/, imported only then); `compose` carries the `-f` files that form one
project and the Compose options. Nothing touches the host until the whole input is valid;
bad input never raises anything but SpecError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.model.desired import Desired, DesiredStack
from reconciler.model.errors import Problem, SpecError
from reconciler.spec.loader import LoadedFile, iter_stack_files, load_file
from reconciler.spec.normalize import normalize_stack
from reconciler.spec.risks import stack_risks
from reconciler.spec.schema_check import check_schema
from reconciler.spec.semantic import check_across, check_file
from reconciler.spec.semantic_container import PortUse

if TYPE_CHECKING:
    from reconciler.spec.compose.entry import ComposeRequest

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def _load(path: Path, compose: ComposeRequest | None) -> LoadedFile:
    if path.name in COMPOSE_NAMES:
        return _load_compose([path], compose)
    loaded = load_file(path)
    top = loaded.data if isinstance(loaded.data, dict) else {}
    if "services" in top and "containers" not in top and not loaded.problems:
        return _load_compose([path], compose)
    return loaded


def _load_compose(files: list[Path], compose: ComposeRequest | None) -> LoadedFile:
    from reconciler.spec.compose.entry import ComposeRequest, load_compose_file

    return load_compose_file(files, compose or ComposeRequest())


def _inputs(
    paths: Sequence[str | Path], compose: ComposeRequest | None
) -> Iterator[LoadedFile | Problem]:
    if compose is not None and compose.files:
        missing = [f for f in compose.files if not f.is_file()]
        yield from (Problem(str(f), 0, 0, "no such file") for f in missing)
        if not missing:
            yield _load_compose(list(compose.files), compose)
    for given in map(Path, paths):
        overrides = _overrides(given) if given.is_dir() else []
        for path, missing_path in iter_stack_files([given]):
            if missing_path:
                yield Problem(str(path), 0, 0, missing_path)
            elif path.name in COMPOSE_NAMES and overrides:
                yield _load_compose([path, overrides[0]], compose)
            elif path not in overrides:
                yield _load(path, compose)


def _overrides(folder: Path) -> list[Path]:
    """In a folder, a Compose file's override file (compose.override.yaml ...) is merged
    into it, as `docker compose` does in that folder; it is no project of its own."""
    if not any((folder / name).is_file() for name in COMPOSE_NAMES):
        return []
    from reconciler.spec.compose.discover import OVERRIDE_FILES

    return [folder / name for name in OVERRIDE_FILES if (folder / name).is_file()]


def _check(
    paths: Sequence[str | Path], cache_dir: Path | None = None,
    compose: ComposeRequest | None = None,
) -> tuple[list[LoadedFile], list[Problem]]:
    problems: list[Problem] = []
    valid: list[tuple[LoadedFile, list[PortUse]]] = []
    for loaded in _inputs(paths, compose):
        if isinstance(loaded, Problem):
            problems.append(loaded)
            continue
        problems.extend(loaded.problems)
        if loaded.problems:
            continue
        schema_problems = check_schema(loaded, cache_dir)
        problems.extend(schema_problems)
        if schema_problems:
            continue
        file_problems, ports = check_file(loaded)
        problems.extend(file_problems)
        valid.append((loaded, ports))
    problems.extend(check_across(valid))
    return [loaded for loaded, _ in valid], sorted(set(problems))


def validate_paths(paths: Sequence[str | Path],
                   compose: ComposeRequest | None = None) -> list[Problem]:
    """Every problem in the given files and folders (a folder means its *.yaml/*.yml)."""
    return _check(paths, None, compose)[1]


def load_stacks(paths: Sequence[str | Path], cache_dir: Path | None = None,
                compose: ComposeRequest | None = None) -> Desired:
    """Load, validate and normalize; raise SpecError carrying every problem. `cache_dir`
    remembers data that passed the schema (see schema_check.check_schema)."""
    loaded_files, problems = _check(paths, cache_dir, compose)
    if problems:
        raise SpecError(problems)
    stacks: list[DesiredStack] = []
    for loaded in loaded_files:
        try:
            stack = normalize_stack(loaded.path, loaded.data)
            warnings = tuple(sorted({*loaded.warnings, *stack_risks(loaded)}))
            stacks.append(replace(stack, warnings=warnings))
        except (OSError, ValueError) as exc:  # a file changed under our feet
            # the file name and strerror only: a message must never carry file content
            what = exc.strerror if isinstance(exc, OSError) else "it changed while being read"
            where = f" {exc.filename}" if isinstance(exc, OSError) and exc.filename else ""
            problems.append(
                Problem(str(loaded.path), 0, 0, f"cannot read a referenced file{where}: {what}")
            )
    if problems:
        raise SpecError(problems)
    return Desired(tuple(stacks))
