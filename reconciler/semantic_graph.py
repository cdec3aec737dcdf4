"""Cycle search for `depends_on` and build `from` graphs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The first cycle found, in sorted order, closed: ["web", "api", "web"]. Edges to
    unknown nodes are ignored (reported elsewhere)."""
    done: set[str] = set()
    for start in sorted(edges):
        stack: list[str] = []
        cycle = _visit(start, edges, stack, done)
        if cycle:
            return cycle
    return None


def _visit(
    node: str, edges: Mapping[str, Sequence[str]], stack: list[str], done: set[str]
) -> list[str] | None:
    if node in stack:
        return [*stack[stack.index(node) :], node]
    if node in done or node not in edges:
        return None
    stack.append(node)
    for target in sorted(edges[node]):
        cycle = _visit(target, edges, stack, done)
        if cycle:
            return cycle
    stack.pop()
    done.add(node)
    return None
