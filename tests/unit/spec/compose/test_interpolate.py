"""Interpolation: every form Compose knows, nesting, escapes, and messages that name the
variable but never a value."""

from __future__ import annotations

import pytest

from reconciler.model.errors import Problem
from reconciler.spec.compose.interpolate import TemplateError, interpolate, substitute
from reconciler.spec.compose.nodes import Node, plain
from reconciler.spec.compose.project import Origin

ENV = {"SET": "value", "EMPTY": "", "OTHER": "secret-other"}


@pytest.mark.parametrize(("template", "expected"), [
    ("$SET", "value"), ("${SET}", "value"), ("a${SET}b", "avalueb"), ("$SET.x", "value.x"),
    ("${NOPE:-dflt}", "dflt"), ("${EMPTY:-dflt}", "dflt"), ("${SET:-dflt}", "value"),
    ("${NOPE-dflt}", "dflt"), ("${EMPTY-dflt}", ""), ("${SET-dflt}", "value"),
    ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${NOPE:+alt}", ""),
    ("${SET+alt}", "alt"), ("${EMPTY+alt}", "alt"), ("${NOPE+alt}", ""),
    ("${SET:?msg}", "value"), ("${EMPTY?msg}", ""),
    ("$$", "$"), ("$$SET", "$SET"), ("$${SET}", "${SET}"), ("5$ and $ 6", "5$ and $ 6"),
    ("${NOPE:-${ALSO:-${SET}}}", "value"), ("${NOPE:-a-${SET}-b}", "a-value-b"),
    ("${NOPE:-}", ""), ("${NOPE:-{x}}", "{x}"), ("$1", "$1"), ("${set}", ""),
])
def test_every_form_substitutes_as_compose_does(template: str, expected: str) -> None:
    assert substitute(template, ENV)[0] == expected


def test_unset_variables_are_reported_once_each_and_only_without_default() -> None:
    assert substitute("$A ${A} ${B:-x} ${C-y} ${D:+z}", ENV)[1] == ["A", "A"]


@pytest.mark.parametrize(("template", "message"), [
    ("${NOPE:?set NOPE first}", "required variable NOPE is missing a value: set NOPE first"),
    ("${EMPTY:?must not be empty}", "required variable EMPTY is missing a value: must not"),
    ("${NOPE?}", "required variable NOPE is missing a value"),
    ("x${", "not closed"), ("${}", "must start with a variable name"),
    ("${1A}", "must start with a variable name"), ("${A B}", "expected `}`"),
])
def test_errors_say_what_is_wrong(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("$", r"\$")):
        substitute(template, ENV)


def test_a_required_message_is_never_interpolated() -> None:
    """The user's message could name another variable: its value must not leak."""
    with pytest.raises(TemplateError) as caught:
        substitute("${NOPE:?see ${OTHER}}", ENV)
    assert "secret-other" not in str(caught.value)
    assert "${OTHER}" in str(caught.value)


def _tree(value: object) -> Node:
    origin = Origin("c.yaml", 3, 9)
    if isinstance(value, dict):
        return Node({k: _tree(v) for k, v in value.items()}, origin, origin)
    if isinstance(value, list):
        return Node([_tree(v) for v in value], origin)
    return Node(value, origin, origin)


def test_the_tree_is_interpolated_in_values_only_and_cast_where_compose_casts() -> None:
    problems: list[Problem] = []
    tree = _tree({"services": {"web": {"image": "${SET}", "read_only": "${RO:-true}",
                                       "labels": {"$SET": "$$x"}, "pids_limit": "${P:-64}",
                                       "ports": [{"target": "${T:-80}"}], "cpus": "0.5"}}})
    data = plain(interpolate(tree, ENV, problems))
    assert data == {"services": {"web": {"image": "value", "read_only": True,
                                         "labels": {"$SET": "$x"}, "pids_limit": 64,
                                         "ports": [{"target": 80}], "cpus": 0.5}}}
    assert problems == []


def test_problems_are_located_and_name_no_value() -> None:
    problems: list[Problem] = []
    tree = _tree({"services": {"web": {"image": "${UNSET_ONE}", "read_only": "${OTHER}",
                                       "command": "${NOPE:?give it}"}}})
    interpolate(tree, ENV, problems)
    messages = {p.message: (p.file, p.line, p.column, p.severity) for p in problems}
    assert messages == {
        "`services.web.image`: variable UNSET_ONE is not set; it defaults to an empty string":
            ("c.yaml", 3, 9, "warning"),
        "`services.web.read_only` must be true or false after interpolation":
            ("c.yaml", 3, 9, "error"),
        "`services.web.command`: required variable NOPE is missing a value: give it":
            ("c.yaml", 3, 9, "error"),
    }
    assert not any("secret-other" in p.message for p in problems)


def test_casts_apply_at_their_paths_only_and_a_tree_without_change_is_kept() -> None:
    """A name that is cast under a service (`read_only`, `retries`) is a plain string in
    a mapping of the user's own names, and at a depth where no pattern ends; a `*`
    stands for any key or list index."""
    problems: list[Problem] = []
    tree = _tree({"services": {"web": {
        "environment": {"read_only": "true", "A": "${SET}"}, "labels": {"tty": "1"},
        "healthcheck": {"retries": "3", "test": ["CMD", "true"]},
        "ulimits": {"nofile": {"soft": "10", "hard": "${H:-20}"}, "nproc": "64"},
        "volumes": [{"read_only": "false", "volume": {"nocopy": "true"}}],
        "deploy": {"replicas": "2", "restart_policy": {"max_attempts": "4"}},
        "depends_on": {"db": {"required": "false", "condition": "x"}}}},
        "networks": {"n": {"internal": "true", "labels": {"internal": "true"}}},
        "volumes": {"v": {"external": "true"}}})
    data = plain(interpolate(tree, ENV, problems))
    assert data == {"services": {"web": {
        "environment": {"read_only": "true", "A": "value"}, "labels": {"tty": "1"},
        "healthcheck": {"retries": 3, "test": ["CMD", "true"]},
        "ulimits": {"nofile": {"soft": 10, "hard": 20}, "nproc": 64},
        "volumes": [{"read_only": False, "volume": {"nocopy": True}}],
        "deploy": {"replicas": 2, "restart_policy": {"max_attempts": 4}},
        "depends_on": {"db": {"required": False, "condition": "x"}}}},
        "networks": {"n": {"internal": True, "labels": {"internal": "true"}}},
        "volumes": {"v": {"external": True}}}
    assert problems == []
    unchanged = _tree({"services": {"web": {"image": "x", "labels": {"a": "b"},
                                            "ports": ["80:80"], "cpus": 0.5}}})
    assert interpolate(unchanged, ENV, []) is unchanged
