"""Load a Compose project: `load_compose(files, options) -> ComposeProject`.

The variables come from the process environment over the `.env` file of the project folder
(or the `--env-file` files, later ones winning); the files are merged (`model.py`); `x-`
extension keys are dropped; services outside the selected profiles are left out; the
project is named by Compose's rules (`discover.py`). Problems are collected on the result,
never raised, each at its file, line and column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.model.errors import Problem
from reconciler.spec.compose.discover import (
    find_compose_files,
    invalid_project_name,
    normalize_project_name,
)
from reconciler.spec.compose.dotenv import read_env_file
from reconciler.spec.compose.model import ModelLoader
from reconciler.spec.compose.nodes import TREES, ComposeFailure, Node, at, plain, problem_at
from reconciler.spec.compose.profiles import select_profiles
from reconciler.spec.compose.project import ComposeOptions, ComposeProject
from reconciler.support import readlog

SERVICE_NAME = re.compile(r"[a-zA-Z0-9._-]+")
RESOURCE_KINDS = ("services", "networks", "volumes", "secrets", "configs", "models")
# Mappings whose keys are the user's own names (a label `x-y` is a real label).
_USER_KEYED = frozenset({"environment", "labels", "annotations", "sysctls", "extra_hosts",
                         "args", "driver_opts", "options", "depends_on", "networks",
                         "additional_contexts", "ulimits", "external_links", "aliases"})


def load_compose(files: Sequence[Path], options: ComposeOptions) -> ComposeProject:
    # Interpolation may read any variable: no settled answer for a Compose project
    # (cli/settled.py keys on a few variables only).
    readlog.refuse("a Compose project reads the whole environment")
    environ = dict(os.environ if options.environ is None else options.environ)
    problems: list[Problem] = []
    paths = [Path(f) for f in files]  # as given: messages name them so
    if not paths:
        paths, warning = find_compose_files(Path.cwd(), environ)
        if warning:
            problems.append(Problem(".", 0, 0, warning, "warning"))
    if not paths:
        problems.append(Problem(".", 0, 0, "no Compose file found (compose.yaml, "
                                "compose.yml, docker-compose.yml, docker-compose.yaml)"))
        return ComposeProject("", (), Path.cwd().absolute(), problems=problems)
    project = ComposeProject("", tuple(paths), paths[0].absolute().parent, problems=problems)
    variables = project_environment(project.project_dir, options, environ, problems)
    project.environment = variables
    loader = ModelLoader(problems, inputs=env_files_for(project.project_dir, options, environ))
    try:
        root = loader.load(paths, project.project_dir, variables)
        root = _checked(root, problems)
        profiles = options.profiles or tuple(
            p.strip() for p in variables.get("COMPOSE_PROFILES", "").split(",") if p.strip())
        root = select_profiles(root, profiles, options.services, problems)
    except ComposeFailure as failure:
        problems.append(failure.problem)
        return project
    finally:
        project.inputs = tuple(dict.fromkeys(loader.inputs))
    project.name = _project_name(project, root, options, variables)
    root = at(root, {"name": Node(project.name, (root.get("name") or root).origin), **{
        k: v for k, v in root.value.items() if k != "name"}})
    project.tree = root
    project.data = drop_extensions(root)
    return project


def project_environment(project_dir: Path, options: ComposeOptions, environ: dict[str, str],
                        problems: list[Problem]) -> dict[str, str]:
    """The variables interpolation sees: the process environment over the env files."""
    from_files: dict[str, str] = {}
    for path in env_files_for(project_dir, options, environ):
        if not path.is_file():
            problems.append(Problem(str(path), 0, 0, "env file not found"))
            continue
        problems.extend(read_env_file(path, environ, from_files))
    return {**from_files, **environ}


def env_files_for(project_dir: Path, options: ComposeOptions,
                  environ: dict[str, str]) -> list[Path]:
    """The `--env-file` files, else the project folder's `.env` (unless
    COMPOSE_DISABLE_ENV_FILE is true)."""
    if options.env_files:
        return [Path(p) for p in options.env_files]
    disabled = environ.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in ("1", "true", "t")
    dotenv = project_dir / ".env"
    return [dotenv] if not disabled and dotenv.is_file() else []


def _project_name(project: ComposeProject, root: Node, options: ComposeOptions,
                  variables: dict[str, str]) -> str:
    explicit = options.project_name or variables.get("COMPOSE_PROJECT_NAME")
    if explicit:
        invalid = invalid_project_name(explicit)
        if invalid and options.project_name:
            project.problems.append(Problem("-p", 0, 0, invalid))
        elif invalid:  # a variable's value is never shown
            project.problems.append(Problem("COMPOSE_PROJECT_NAME", 0, 0, "the variable is "
                                            "not a valid project name: " + invalid.split(
                                                ": ", 1)[1]))
        return explicit
    written = root.get("name")
    if written is not None and isinstance(written.value, str) and written.value:
        name = normalize_project_name(written.value)
        if name:
            return name
    name = normalize_project_name(project.project_dir.name)
    if not name:
        project.problems.append(problem_at(root.origin, "the project folder's name gives no "
                                           "valid project name; set `name:` or use -p"))
    return name


def drop_extensions(node: Node, depth: int = 0, parent: str = "") -> Any:
    """The tree's plain data without `x-` keys: at the top, in each resource and in its
    structure, but not in mappings of the user's own names (labels, environment ...)."""
    if isinstance(node.value, list):  # a scalar item is taken as it is, without a call
        return [drop_extensions(v, depth + 1, parent) if isinstance(v.value, TREES) else v.value
                for v in node.value]
    if not isinstance(node.value, dict):
        return node.value
    named = depth == 1 and parent in RESOURCE_KINDS  # a table of resources by name
    if parent in _USER_KEYED and not named:
        return plain(node)
    return {k: drop_extensions(v, depth + 1, "" if named else k)
            if isinstance(v.value, TREES) else v.value
            for k, v in node.value.items() if named or not k.startswith("x-")}


def _checked(root: Node, problems: list[Problem]) -> Node:
    services = root.get("services")
    if services is None:
        return root
    if not services.is_map:
        raise ComposeFailure(problem_at(services.origin, "`services` must be a mapping of "
                                        "service names to services"))
    for name, service in services.value.items():
        if not SERVICE_NAME.fullmatch(name):
            problems.append(problem_at(service.key or service.origin, f"invalid service name "
                                       f"{name!r}: use letters, digits, `.`, `_` and `-`"))
        if not service.is_map:
            problems.append(problem_at(service.origin, f"service `{name}` must be a mapping"))
    return root
