"""Variable interpolation as Compose does it, in every string value (never in keys).

`$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` (unset or empty / unset),
`${VAR:+alt}` / `${VAR+alt}` (set and non-empty / set), `${VAR:?msg}` / `${VAR?msg}`
(required), `$$` for a literal `$`; defaults nest (`${A:-${B:-x}}`). An unset variable
without a default becomes "" with a warning, as Compose warns. Messages name variables,
never their values; a required variable's message is the user's text as written (it is not
interpolated, so it cannot carry another variable's value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.model.errors import Problem
from reconciler.model.records import field, record
from reconciler.spec.compose.nodes import TREES, Node, PatternTree, at, dotted, problem_at, same
from reconciler.spec.compose.project import JsonPath

NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class TemplateError(Exception):
    """A `${...}` that is not a valid template, or a required variable without a value."""


@record
class Substitution:
    """Compose's `${VAR}` interpolation over one variable lookup."""
    lookup: Callable[[str], str | None]
    unset: list[str] = field(default_factory=list)  # variables read unset, without a default

    def run(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            dollar = text.find("$", i)
            if dollar < 0:
                out.append(text[i:])
                break
            out.append(text[i:dollar])
            i = self._one(text, dollar, out)
        return "".join(out)

    def _one(self, text: str, dollar: int, out: list[str]) -> int:
        """Substitute the template starting at `dollar`; returns where to go on."""
        following = text[dollar + 1:dollar + 2]
        if following == "$":
            out.append("$")
            return dollar + 2
        if following == "{":
            end = _closing_brace(text, dollar + 1)
            if end < 0:
                raise TemplateError("a `${` is not closed by `}` (write `$$` for a literal `$`)")
            out.append(self._braced(text[dollar + 2:end]))
            return end + 1
        name = NAME.match(text, dollar + 1)
        if name is None:  # a `$` before something that is not a name stays as it is
            out.append("$")
            return dollar + 1
        out.append(self._value(name.group()))
        return name.end()

    def _value(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            self.unset.append(name)
            return ""
        return value

    def _braced(self, body: str) -> str:
        name = NAME.match(body)
        if name is None:
            raise TemplateError("`${...}` must start with a variable name "
                                "(write `$$` for a literal `$`)")
        rest = body[name.end():]
        if not rest:
            return self._value(name.group())
        operator = next((op for op in OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise TemplateError(f"invalid interpolation `${{{name.group()}...}}`: expected "
                                "`}`, `:-`, `-`, `:?`, `?`, `:+` or `+` after the name")
        return self._apply(name.group(), operator, rest[len(operator):])

    def _apply(self, name: str, operator: str, argument: str) -> str:
        value = self.lookup(name)
        present = value is not None and (value != "" or not operator.startswith(":"))
        if operator.endswith("-"):
            return value if present and value is not None else self.run(argument)
        if operator.endswith("+"):
            return self.run(argument) if present else (value or "")
        if not present or value is None:
            reason = f": {argument}" if argument else ""
            raise TemplateError(f"required variable {name} is missing a value{reason}")
        return value


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def substitute(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` interpolated from `environ`, and the variables read unset (for warnings).
    Raises TemplateError."""
    run = Substitution(environ.get)
    return run.run(text), run.unset


# Values Compose turns into numbers or booleans after interpolation (loader/interpolate.go).
def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "y", "yes", "on"):
        return True
    if lowered in ("false", "n", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _integer(text: str) -> int:
    return int(text, 10)


_SERVICE_CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    ("cpu_count",): _integer, ("cpu_percent",): float, ("cpu_period",): _integer,
    ("cpu_quota",): _integer, ("cpu_rt_period",): _integer, ("cpu_rt_runtime",): _integer,
    ("cpus",): float, ("cpu_shares",): _integer, ("init",): _boolean,
    ("depends_on", "*", "required"): _boolean, ("depends_on", "*", "restart"): _boolean,
    ("deploy", "replicas"): _integer, ("deploy", "restart_policy", "max_attempts"): _integer,
    ("healthcheck", "retries"): _integer, ("healthcheck", "disable"): _boolean,
    ("oom_kill_disable",): _boolean, ("oom_score_adj",): _integer, ("pids_limit",): _integer,
    ("ports", "*", "target"): _integer, ("privileged",): _boolean, ("read_only",): _boolean,
    ("scale",): _integer, ("stdin_open",): _boolean, ("tty",): _boolean,
    ("ulimits", "*"): _integer, ("ulimits", "*", "hard"): _integer,
    ("ulimits", "*", "soft"): _integer, ("volumes", "*", "read_only"): _boolean,
    ("volumes", "*", "volume", "nocopy"): _boolean,
}
Cast = Callable[[str], Any]
_CAST_PATTERNS: list[tuple[tuple[str, ...], Cast]] = [
    *((("services", "*", *tail), cast) for tail, cast in _SERVICE_CASTS.items()),
    *(((kind, "*", "external"), _boolean) for kind in ("networks", "volumes", "secrets",
                                                       "configs")),
    *((("networks", "*", flag), _boolean) for flag in ("internal", "attachable",
                                                       "enable_ipv4", "enable_ipv6")),
]


CASTS: PatternTree[Cast] = PatternTree(_CAST_PATTERNS)


def interpolate(node: Node, environ: Mapping[str, str], problems: list[Problem]) -> Node:
    """The tree with every string value interpolated (and cast where Compose casts);
    problems are appended, each at the value it comes from. What interpolation leaves as
    it is stays the same node (nodes are never changed in place)."""
    return _walk(node, environ, problems, (), CASTS)


def _walk(node: Node, environ: Mapping[str, str], problems: list[Problem],
          path: JsonPath, level: PatternTree[Cast] | None) -> Node:
    """`level`: the casts seen from `path`, None where no cast pattern reaches."""
    if isinstance(node.value, dict):
        items = _each(node.value.items(), environ, problems, path, level)
        return (node if same(items, node.value.values())
                else at(node, dict(zip(node.value, items, strict=True))))
    if isinstance(node.value, list):
        items = _each(enumerate(node.value), environ, problems, path, level)
        return node if same(items, node.value) else at(node, items)
    cast = level.value if level is not None else None
    if not isinstance(node.value, str) or ("$" not in node.value and cast is None):
        return node
    if "$" not in node.value:
        return at(node, _cast(node.value, cast, path, node, problems))
    where = dotted(path)
    try:
        text, unset = substitute(node.value, environ)
    except TemplateError as exc:
        problems.append(problem_at(node.origin, f"`{where}`: {exc}"))
        return node
    for name in dict.fromkeys(unset):
        problems.append(problem_at(node.origin, f"`{where}`: variable {name} is not set; "
                                   "it defaults to an empty string", warning=True))
    result = at(node, _cast(text, cast, path, node, problems))
    if text != node.value:
        result.written = node.value
    return result


def _each(children: Iterable[tuple[Any, Node]], environ: Mapping[str, str],
          problems: list[Problem], path: JsonPath, level: PatternTree[Cast] | None) -> list[Node]:
    """The children of a tree, walked only where interpolation could change them (a
    500-service file has ~16,000 values, ~600 strings with a `$`)."""
    if level is None:  # no cast below: only a tree or a string with a `$` can change
        return [_walk(v, environ, problems, (*path, k), None)
                if isinstance(v.value, TREES) or (type(v.value) is str and "$" in v.value)
                else v for k, v in children]
    return [_walk(v, environ, problems, (*path, k), below)
            if _may_change(v.value, below := level.below(k)) else v for k, v in children]


def _may_change(value: Any, level: PatternTree[Cast] | None) -> bool:
    """Whether interpolation could change a value with these casts: a tree, a string with
    a `$` or a cast (numbers, booleans and nulls never)."""
    if isinstance(value, str):
        return "$" in value or (level is not None and level.value is not None)
    return isinstance(value, TREES)


def _cast(text: str, cast: Cast | None, path: JsonPath, node: Node,
          problems: list[Problem]) -> Any:
    if cast is None:
        return text
    try:
        return cast(text)
    except ValueError:
        kind = ("true or false" if cast is _boolean else "an integer" if cast is _integer
                else "a number")
        problems.append(problem_at(node.origin, f"`{dotted(path)}` must be {kind}"
                                   + (" after interpolation" if "$" in str(node.value) else "")))
        return text
