"""Where the stack pipeline meets Compose: one loaded Compose project as a `LoadedFile`
(spec/stacks.py imports this only when a Compose file is involved).

    load_compose_file(files, request) -> ComposeLoadedFile
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.model.errors import Problem
from reconciler.spec.compose.located import ComposeLoadedFile
from reconciler.spec.compose.project import ComposeOptions, ComposeProject, Origin
from reconciler.spec.compose.to_stack import compose_loaded
from reconciler.spec.loader import load_file


@dataclass(frozen=True)
class ComposeRequest:
    """What the command line says about Compose input: `-f` files (one project, merged),
    `-p`, `--env-file`, `--profile`, and `--strict` (ignored keys are errors)."""

    files: tuple[Path, ...] = ()
    options: ComposeOptions = field(default_factory=ComposeOptions)
    strict: bool = False


def load_compose_file(files: list[Path], request: ComposeRequest) -> ComposeLoadedFile:
    return compose_loaded(_load_project(files, request.options), request.strict)


def _load_project(files: list[Path], options: ComposeOptions) -> ComposeProject:
    try:
        from reconciler.spec.compose.load import load_compose  # type: ignore[import-not-found]
    except ImportError:  # part 1 of issue 15 not merged yet: one file, as written
        project = single_file_project(files[0], options)
        if len(files) > 1:
            project.problems.append(Problem(str(files[1]), 0, 0, "merging several Compose "
                                            "files needs the Compose loader, which this "
                                            "build lacks; give one file"))
        return project
    loaded: ComposeProject = load_compose(files, options)
    return loaded


_PROJECT_NAME = re.compile(r"[^a-z0-9_-]")


def single_file_project(path: Path, options: ComposeOptions) -> ComposeProject:
    """One Compose file taken as written (no interpolation, include, extends or merge):
    the stand-in for the Compose loader, and the tests' way to a project."""
    loaded = load_file(path)
    environ = os.environ if options.environ is None else options.environ
    data = loaded.data if isinstance(loaded.data, dict) else {}
    name = options.project_name or environ.get("COMPOSE_PROJECT_NAME") or data.get("name") \
        or _PROJECT_NAME.sub("", path.absolute().parent.name.lower()).lstrip("-_")
    file = str(path)
    project = ComposeProject(
        name=str(name), files=(path,), project_dir=path.absolute().parent, data=data,
        values={p: Origin(file, *loc) for p, loc in loaded.values.items()},
        keys={p: Origin(file, *loc) for p, loc in loaded.keys.items()},
        problems=list(loaded.problems))
    active = set(options.profiles) | set(filter(None, environ.get("COMPOSE_PROFILES", "")
                                                .split(",")))
    for service, spec in list((data.get("services") or {}).items()):
        if isinstance(spec, dict) and spec.get("profiles") \
                and not set(spec["profiles"]) & active:
            del data["services"][service]
    if loaded.data is not None and not isinstance(loaded.data, dict):
        project.problems.append(Problem(file, 1, 1, "expected a mapping with `services:`"))
    return project
