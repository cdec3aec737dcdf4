"""Public API of the input half: stack files -> validated, normalized `Desired`.

    load_stacks(paths) -> Desired        raises SpecError with every problem found; risky
                                         settings ride on it as warnings (spec/risks.py)
    validate_paths(paths) -> [Problem]   the same checks, problems returned
    risks_of_sound_files(paths) -> [Problem]   when the input is refused: the warnings of
                                         the files that have no error of their own

Compose files are accepted wherever stack files are (spec/inputs.py); `compose` carries
the `-f` files that form one project and the Compose options. Nothing touches the host
until the whole input is valid; bad input never raises anything but SpecError.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.model.desired import Desired, DesiredStack
from reconciler.model.errors import Problem, SpecError
from reconciler.model.records import replace
from reconciler.spec import stack_cache
from reconciler.spec.inputs import is_compose_data, load_compose, stack_inputs
from reconciler.spec.loaded import LoadedFile, read_raw
from reconciler.spec.normalize import normalize_stack
from reconciler.spec.risks import stack_risks
from reconciler.spec.semantic import check_across, check_file
from reconciler.spec.semantic_container import PortUse
from reconciler.support.gcpause import paused_gc

if TYPE_CHECKING:
    from reconciler.spec.compose.entry import ComposeRequest

Checked = tuple[LoadedFile, list[PortUse]]


def _check(
    paths: Sequence[str | Path], cache_dir: Path | None = None,
    compose: ComposeRequest | None = None,
) -> tuple[list[LoadedFile], list[Problem]]:
    problems: list[Problem] = []
    valid: list[Checked] = []
    for item in stack_inputs(paths, compose):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        if isinstance(item, LoadedFile):
            checked, file_problems = _check_loaded(item, cache_dir)
        else:
            checked, file_problems = _check_file(item, cache_dir, compose)
        problems.extend(file_problems)
        if checked is not None:
            valid.append(checked)
    across = check_across(valid)
    if across and any(not loaded.located for loaded, _ in valid):
        return _check(paths, None, compose)  # a clash needs the line and column of both sides
    problems.extend(across)
    return [loaded for loaded, _ in valid], sorted(set(problems))


def _check_loaded(loaded: LoadedFile, cache_dir: Path | None
                  ) -> tuple[Checked | None, list[Problem]]:
    """A file read in full: its schema (remembered by data) and semantic checks."""
    if loaded.problems:
        return None, loaded.problems
    from reconciler.spec.schema_check import check_schema

    schema_problems = check_schema(loaded, cache_dir)
    if schema_problems:
        return None, schema_problems
    file_problems, ports = check_file(loaded)
    return (loaded, ports), file_problems  # with problems too: clashes are still looked for


def _check_file(path: Path, cache_dir: Path | None, compose: ComposeRequest | None
                ) -> tuple[Checked | None, list[Problem]]:
    """One stack file, None when it could not be read or failed the schema: from the stack
    cache when its bytes are known valid (no YAML parse, no schema check), else read in
    full (and, when its top level says so, taken as a Compose file). The semantic checks
    always run (they read the host and the referenced files); a problem or a warning in a
    cached file is reported after reading it in full, so that it carries its line and
    column."""
    bare = LoadedFile(path)
    raw = read_raw(bare)
    if raw is None:
        return None, bare.problems
    key = stack_cache.file_key(raw) if cache_dir is not None else ""
    known = stack_cache.lookup(cache_dir, key) if cache_dir is not None else stack_cache.MISS
    if isinstance(known, dict):
        cached = LoadedFile(path, data=known, located=False)
        file_problems, ports = check_file(cached)
        if not file_problems and not stack_risks(cached):
            return (cached, ports), []
    from reconciler.spec.loader import load_file  # PyYAML: only for a new or changed file

    loaded = load_file(path, raw)
    if not loaded.problems and is_compose_data(loaded.data):
        return _check_loaded(load_compose([path], compose), None)
    if known is not stack_cache.MISS:  # known valid by its bytes: only the checks that read
        if loaded.problems:
            return None, loaded.problems
        file_problems, ports = check_file(loaded)
        return (loaded, ports), file_problems
    checked, file_problems = _check_loaded(loaded, cache_dir)
    if cache_dir is not None and checked is not None and not file_problems:
        stack_cache.remember(cache_dir, key, loaded.data)
    return checked, file_problems


def validate_paths(paths: Sequence[str | Path],
                   compose: ComposeRequest | None = None) -> list[Problem]:
    """Every problem in the given files and folders (a folder means its *.yaml/*.yml)."""
    with paused_gc():
        return _check(paths, None, compose)[1]


def load_stacks(paths: Sequence[str | Path], cache_dir: Path | None = None,
                compose: ComposeRequest | None = None) -> Desired:
    """Load, validate and normalize; raise SpecError carrying every problem. `cache_dir`
    remembers files that passed the checks, by their bytes (spec/stack_cache.py)."""
    with paused_gc():  # a large input is a large tree of objects that all live to the end
        return _load_stacks(paths, cache_dir, compose)


def _load_stacks(paths: Sequence[str | Path], cache_dir: Path | None,
                 compose: ComposeRequest | None) -> Desired:
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


def risks_of_sound_files(paths: Sequence[str | Path], cache_dir: Path | None = None,
                         compose: ComposeRequest | None = None) -> list[Problem]:
    """The risk warnings of each file without an error of its own (it parsed and passed its
    schema and semantic checks), for `validate -o json|sarif` on input that another file
    makes invalid: a report then shows every warning to fix, not only the errors."""
    loaded_files, problems = _check(paths, cache_dir, compose)
    broken = {p.file for p in problems if p.severity == "error"}
    return sorted({w for f in loaded_files if str(f.path) not in broken
                   for w in {*f.warnings, *stack_risks(f)}})
