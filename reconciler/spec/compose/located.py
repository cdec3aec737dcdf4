"""The stack data made from a Compose project, with the way back to the Compose files.

The mapping writes stack data (`StackOut.put`) and, for every stack path it writes, the
Compose path it came from (the *trail*). `ComposeLoadedFile` is a `LoadedFile` whose
`site()` follows the trail into the project's origins, so the schema check, the semantic
checks and the risk warnings, which only know stack paths, name the user's Compose file,
line and column.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.errors import Problem
from reconciler.model.records import field, record
from reconciler.spec.compose.project import ComposeProject
from reconciler.spec.loader import JsonPath, LoadedFile, Location


@record
class ComposeLoadedFile(LoadedFile):
    """`path` is the project's first Compose file: relative paths start from its folder
    (as in Compose) and the stack's `source` names it."""

    project: ComposeProject | None = None
    trail: dict[JsonPath, JsonPath] = field(default_factory=dict)  # stack -> compose path

    def site(self, where: JsonPath | None, *, at_key: bool = False) -> tuple[str, int, int]:
        if where is None or self.project is None:
            return (str(self.path), 0, 0)
        path = where
        while path and path not in self.trail:
            path, at_key = path[:-1], False
        found = self.project.origin(self.trail.get(path, ()), at_key=at_key)
        return (found.file, found.line, found.column)

    def locate(self, where: JsonPath | None, *, at_key: bool = False) -> Location:
        _, line, column = self.site(where, at_key=at_key)
        return (line, column)


class StackOut:
    """Stack data being written, its trail, and the warnings and errors of the mapping."""

    def __init__(self, project: ComposeProject) -> None:
        self.project = project
        self.data: dict[str, Any] = {"version": 1}
        self.trail: dict[JsonPath, JsonPath] = {(): ()}
        self.warnings: list[Problem] = []
        self.errors: list[Problem] = []

    def put(self, where: JsonPath, value: Any, came_from: JsonPath, *, deep: bool = False) -> None:
        """Set `value` at stack path `where`; `deep`: the value keeps the Compose shape below
        `came_from`, so its items are traced one to one."""
        parent: Any = self.data
        for step in where[:-1]:
            parent = parent.setdefault(step, {}) if isinstance(parent, dict) else parent[step]
        parent[where[-1]] = value
        self.trail[where] = came_from  # trace(), inline: ~7,000 puts for 500 services
        if deep:
            self._trace_tree(where, came_from, value)

    def trace(self, where: JsonPath, came_from: JsonPath) -> None:
        self.trail[where] = came_from

    def _trace_tree(self, where: JsonPath, came_from: JsonPath, value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value) \
            if isinstance(value, list) else ()
        for key, item in items:  # trace(), inline: once per item of a traced tree
            self.trail[(*where, key)] = (*came_from, key)
            if isinstance(item, dict | list):
                self._trace_tree((*where, key), (*came_from, key), item)

    def unsupported(self, came_from: JsonPath, what: str = "", why: str = "") -> None:
        """A key with no meaning here: a located warning (an error under --strict)."""
        key = what or dotted(came_from[2:] if came_from[:1] == ("services",) else came_from)
        reason = f" ({why})" if why else ""
        self.warnings.append(self.project.problem(
            came_from, f"compose key `{key}` is not supported by reconcile; ignored{reason}",
            at_key=True, warning=True))

    def warn(self, came_from: JsonPath, message: str) -> None:
        self.warnings.append(self.project.problem(came_from, message, warning=True))

    def error(self, came_from: JsonPath, message: str, *, at_key: bool = False) -> None:
        self.errors.append(self.project.problem(came_from, message, at_key=at_key))


def dotted(path: JsonPath) -> str:
    """("deploy", "resources", "reservations") -> deploy.resources.reservations; ports[2]."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text
