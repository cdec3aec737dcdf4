"""`@record` behaves as `@dataclass` with the same flags: each check runs on a record and on
the dataclass twin declared with the same fields, and compares what they do."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.model.records import record


@record(frozen=True, order=True)
class FrozenRecord:
    """Frozen, ordered, one field left out of comparison and one out of repr."""

    name: str
    size: int = 0
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, order=True)
class FrozenTwin:
    """The dataclass twin of FrozenRecord."""

    name: str
    size: int = 0
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@record
class MutableRecord:
    """Mutable, with a list default."""

    items: list[int] = field(default_factory=list)


@dataclass
class MutableTwin:
    """The dataclass twin of MutableRecord."""

    items: list[int] = field(default_factory=list)


@record(frozen=True)
class OneField:
    """A single compared field (its key is the value, not a 1-tuple)."""

    value: str


@record(frozen=True)
class NoField:
    """No fields at all."""


@record(frozen=True)
class OwnEquality:
    """A class's own __eq__ and __repr__ win over the shared ones, as with @dataclass."""

    value: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OwnEquality) and self.value % 10 == other.value % 10

    def __hash__(self) -> int:
        return self.value % 10

    def __repr__(self) -> str:
        return "own"


PAIRS = [(FrozenRecord, FrozenTwin), (MutableRecord, MutableTwin)]
ARGS: dict[type, list[dict[str, Any]]] = {
    FrozenRecord: [{"name": "a"}, {"name": "a", "size": 2, "note": "x", "secret": "s"},
                   {"name": "b", "size": -1}],
    MutableRecord: [{}, {"items": [1, 2]}],
}


@pytest.mark.parametrize(("ours", "twin"), PAIRS)
def test_repr_equality_and_hash_match_the_dataclass(ours: type, twin: type) -> None:
    for left in ARGS[ours]:
        assert repr(ours(**left)).replace(ours.__qualname__, "T") == \
            repr(twin(**left)).replace(twin.__qualname__, "T")
        for right in ARGS[ours]:
            assert (ours(**left) == ours(**right)) == (twin(**left) == twin(**right))
            assert (ours(**left) != ours(**right)) == (twin(**left) != twin(**right))
    assert (ours.__hash__ is None) == (twin.__hash__ is None)


def test_order_matches_the_dataclass() -> None:
    args = ARGS[FrozenRecord]
    ours = sorted(range(len(args)), key=lambda i: FrozenRecord(**args[i]), reverse=True)
    twins = sorted(range(len(args)), key=lambda i: FrozenTwin(**args[i]), reverse=True)
    assert ours == twins == [2, 1, 0]
    a, b = FrozenRecord("a"), FrozenRecord("b")
    assert (a < b, a <= b, a > b, a >= b, a <= a, a >= a) == (True, True, False, False, True, True)


def test_the_field_left_out_of_comparison_is_left_out_of_the_hash() -> None:
    assert hash(FrozenRecord("a", 1, note="x")) == hash(FrozenRecord("a", 1, note="y"))
    assert FrozenRecord("a", 1, note="x") == FrozenRecord("a", 1, note="y")
    assert len({FrozenRecord("a"), FrozenRecord("a"), FrozenRecord("b")}) == 2


def test_a_field_out_of_repr_is_not_shown() -> None:
    assert "s3cret" not in repr(FrozenRecord("a", secret="s3cret"))
    assert repr(FrozenRecord("a", 1, "n")) == "FrozenRecord(name='a', size=1, note='n')"


def test_a_frozen_record_refuses_assignment_and_deletion() -> None:
    item = FrozenRecord("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.size = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del item.name  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.extra = 1  # type: ignore[attr-defined]


def test_other_classes_never_compare_equal() -> None:
    assert FrozenRecord("a") != FrozenTwin("a")
    assert OneField("a") != "a"
    with pytest.raises(TypeError):
        assert FrozenRecord("a") < FrozenTwin("b")  # type: ignore[operator]


def test_one_field_and_no_fields() -> None:
    assert OneField("a") == OneField("a") and OneField("a") != OneField("b")
    assert hash(OneField("a")) == hash(OneField("a"))
    assert NoField() == NoField() and hash(NoField()) == hash(NoField())
    assert repr(NoField()) == "NoField()"


def test_a_class_s_own_methods_win() -> None:
    assert OwnEquality(1) == OwnEquality(11) and hash(OwnEquality(1)) == 1
    assert repr(OwnEquality(1)) == "own"


def test_dataclass_tools_work_on_records() -> None:
    item = FrozenRecord("a", 1, "n", "s")
    assert dataclasses.is_dataclass(item)
    assert dataclasses.replace(item, size=5) == FrozenRecord("a", 5, "n", "s")
    assert dataclasses.asdict(item) == {"name": "a", "size": 1, "note": "n", "secret": "s"}
    assert pickle.loads(pickle.dumps(item)) == item
    assert copy.deepcopy(MutableRecord([1])) == MutableRecord([1])
    mutable = MutableRecord()
    mutable.items = [3]
    assert mutable == MutableRecord([3])
    with pytest.raises(TypeError):
        hash(mutable)
