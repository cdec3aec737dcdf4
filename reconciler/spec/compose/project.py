"""A Compose project after loading: the shape the loader hands to the mapping onto stacks.

    load_compose(files, options) -> ComposeProject      (compose/load.py)

`data` is what Compose itself would see after interpolation, `include`, `extends`, the
merge of every `-f` file (with `!reset` / `!override`) and the `profiles` filter, before
Compose expands short forms: each value keeps the form its user wrote, except that the
relative paths Compose resolves (build contexts, bind-mount sources, env_file, secret and
config files) are absolute (a `build` mapping without `context` gets the project's folder),
an `environment` entry without a value (`- FOO`, `FOO:`) gets the variable's value when it
is set, `x-` keys and `version` are gone and `name` is the project's name; `origin()`
says where each value and key came from (file, line, column) by its JSON path in `data`,
so a later problem (an unsupported key, a bad port) points at the user's own line
even when the value came from an included or extended file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from reconciler.model.errors import Problem
from reconciler.model.records import field, record

JsonPath = tuple[str | int, ...]


# Where a value or key was written: `line` is 1-based, 0 when unknown. A named tuple: two
# per value of a file, and a tuple is made in half the time of a frozen record. The
# functional form: the class form compiles each annotation string (future annotations)
# into a ForwardRef at import, on every command's start.
Origin = NamedTuple("Origin", [("file", str), ("line", int), ("column", int)])  # noqa: UP014


@record(frozen=True)
class ComposeOptions:
    """What the command line adds to the files (Compose's own flags and variables)."""

    project_name: str | None = None  # -p
    env_files: tuple[Path, ...] = ()  # --env-file (default: .env in the project folder)
    profiles: tuple[str, ...] = ()  # --profile (COMPOSE_PROFILES joins them)
    environ: Mapping[str, str] | None = None  # None: os.environ
    # services named on the command line: one in a profile is enabled by being named
    services: tuple[str, ...] = ()


@record
class ComposeProject:
    """A loaded Compose project: its name, files and merged data."""
    name: str  # the project name, by Compose's rules (-p, COMPOSE_PROJECT_NAME, name:, folder)
    files: tuple[Path, ...]  # the -f files in merge order; the first one's folder is the project's
    project_dir: Path
    data: dict[str, Any] = field(default_factory=dict)
    # the located tree `data` was made from (compose/nodes.py's `Node`): `origin` follows
    # a path down it (no table of every path's origin is made: most loads need a few)
    tree: Any = None
    problems: list[Problem] = field(default_factory=list)  # errors: nothing may be applied
    # the variables interpolation used (process environment over the env files), for
    # what Compose resolves later from them (`environment: {FOO: null}`)
    environment: dict[str, str] = field(default_factory=dict)
    # every file loading read (the -f files, included and extended files, the env files
    # of the variables), so a watcher knows what to watch; env_file files of services
    # are read by the mapping, not here
    inputs: tuple[Path, ...] = ()

    def origin(self, where: JsonPath, *, at_key: bool = False) -> Origin:
        """Where the value (or, `at_key`, the mapping key) at `where` was written; the
        nearest parent's value when there is none (or no such key)."""
        nodes = _nodes_along(self.tree, where) if self.tree is not None else []
        if at_key and len(nodes) == len(where) + 1 and nodes[-1].key is not None:
            return nodes[-1].key  # type: ignore[no-any-return]
        if at_key:  # the key's parent, then upwards (the root has no key)
            nodes = nodes[:len(where)]
        if not nodes:
            return Origin(str(self.files[0]) if self.files else "", 0, 0)
        return nodes[-1].origin  # type: ignore[no-any-return]

    def problem(self, where: JsonPath, message: str, *, at_key: bool = False,
                warning: bool = False) -> Problem:
        found = self.origin(where, at_key=at_key)
        return Problem(found.file, found.line, found.column, message,
                       "warning" if warning else "error")


def _nodes_along(root: Any, where: JsonPath) -> list[Any]:
    """The nodes (compose/nodes.py's `Node`) from the root down `where`, as far as it goes."""
    nodes = [root]
    for step in where:
        value = nodes[-1].value
        found = (step in value if isinstance(value, dict) else isinstance(value, list)
                 and isinstance(step, int) and 0 <= step < len(value))
        if not found:
            break
        nodes.append(value[step])
    return nodes
