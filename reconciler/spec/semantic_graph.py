"""Cycle search for `depends_on` and build `from` graphs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The first cycle found, visiting nodes in sorted order, closed: ["web", "api", "web"].
    Edges to unknown nodes are ignored (reported elsewhere). Iterative, so that a long
    chain in a large file cannot exhaust Python's recursion limit."""
    done: set[str] = set()
    for start in sorted(edges):
        if start in done:
            continue
        path: list[str] = [start]
        pending: list[list[str]] = [sorted(t for t in edges[start] if t in edges)]
        while path:
            if not pending[-1]:
                done.add(path.pop())
                pending.pop()
                continue
            target = pending[-1].pop(0)
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done:
                path.append(target)
                pending.append(sorted(t for t in edges[target] if t in edges))
    return None
