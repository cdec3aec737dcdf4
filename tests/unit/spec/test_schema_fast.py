"""The compiled yes/no schema check (spec/schema_fast.py) agrees with jsonschema on the
stack schema: on the example stacks, a mapped 12-service Compose project and thousands
of mutations of them (a value replaced by another type or edge value, a key dropped, an
unknown key added), both say valid for the same data. If they disagreed on invalid data
the fast path would let bad input through unchecked."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bench import compose_file
from reconciler.spec import schema_check
from reconciler.spec.compose.entry import ComposeRequest, load_compose_file
from reconciler.spec.loader import load_file
from reconciler.spec.schema_fast import compiled, equal

ROOT = Path(__file__).resolve().parents[3]
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, 65536, "", "x", "a b",
                         "\n", "1", "UPPER", "web", [], ["x"], [1, 1], {}, {"a": 1}]


def _documents(tmp_path: Path) -> list[dict[str, Any]]:
    docs = [load_file(p).data for p in sorted((ROOT / "examples/stacks").glob("*.yaml"))]
    path = compose_file.write(tmp_path / "project", 12)
    docs.append(load_compose_file([path], ComposeRequest()).data)
    return docs


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*at, i))


def _mutated(doc: dict[str, Any], rng: random.Random, paths: list[tuple[Any, ...]]
             ) -> dict[str, Any]:
    """A copy of `doc` changed at one random place (only the nodes on its way copied)."""
    path = rng.choice(paths[1:])
    out = parent = copy.copy(doc)
    for step in path[:-1]:
        parent[step] = copy.copy(parent[step])
        parent = parent[step]
    kind = rng.random()
    if kind < 0.7:
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif kind < 0.85 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["zzz", "x-ext", "name", "image", "1bad"])] = rng.choice(ODD_VALUES)
    return out


def test_compiles_the_stack_schema() -> None:
    assert compiled(schema_check.schema()) is not None


def test_agrees_with_jsonschema_on_mutations(tmp_path: Path) -> None:
    fast = compiled(schema_check.schema())
    assert fast is not None
    slow = Draft202012Validator(schema_check.schema())
    rng = random.Random(15)
    verdicts = {True: 0, False: 0}
    for doc in _documents(tmp_path):
        assert fast(doc) and slow.is_valid(doc)
        paths = list(_paths(doc))
        for _ in range(200):
            case = _mutated(doc, rng, paths)
            expected = slow.is_valid(case)
            assert fast(case) == expected, "fast and jsonschema disagree"
            verdicts[expected] += 1
    assert verdicts[True] > 50 and verdicts[False] > 200  # both sides were exercised


@pytest.mark.parametrize(("a", "b", "same"), [
    (1, 1.0, True), (1, True, False), (0, False, False), ([1, {"a": 1}], [1.0, {"a": 1}], True),
    ({"a": True}, {"a": 1}, False), ("1", 1, False), (None, None, True), ([], {}, False)])
def test_json_equality(a: Any, b: Any, same: bool) -> None:
    assert equal(a, b) is same
