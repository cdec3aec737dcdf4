"""PatternTree: Compose's path patterns found by walking down, one level per depth."""

from __future__ import annotations

import pytest

from reconciler.spec.compose.nodes import PatternTree


def _find(tree: PatternTree[str], path: tuple[str | int, ...]) -> str | None:
    level: PatternTree[str] | None = tree
    for step in path:
        level = level.below(step) if level is not None else None
    return level.value if level is not None else None


def test_a_star_stands_for_any_key_or_index_and_names_for_themselves() -> None:
    tree = PatternTree([(("services", "*", "ports"), "ports"),
                        (("services", "*", "ports", "*", "target"), "target"),
                        (("services", "*", "ulimits", "*"), "ulimit")])
    assert _find(tree, ("services", "web", "ports")) == "ports"
    assert _find(tree, ("services", "web", "ports", 0, "target")) == "target"
    assert _find(tree, ("services", "web", "ulimits", "nofile")) == "ulimit"
    assert _find(tree, ("services", "web")) is None  # a level on the way, no pattern's end
    assert _find(tree, ("services", "web", "labels")) is None
    assert _find(tree, ("networks", "web", "ports")) is None
    assert _find(tree, ("services", 0, "ports", "x", "target")) == "target"
    level = tree.below("services")
    assert level is not None and level.leads_on
    web = level.below("web")
    assert web is not None and web.below(0) is None  # a name never matches an index
    target = _find(tree, ("services", "w", "ports", 0))
    assert target is None and not PatternTree([(("a",), "x")]).keys["a"].leads_on


def test_a_star_beside_named_keys_is_refused() -> None:
    with pytest.raises(ValueError, match='beside named keys'):
        PatternTree([(("services", "*"), "a"), (("services", "web"), "b")])
