"""`@record` behaves as `@dataclass` with the same flags: each check runs on a record and on
the dataclass twin declared with the same fields, and compares what they do."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import records
from reconciler.model.records import field, record


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
    note: str = dataclasses.field(default="", compare=False)
    secret: str = dataclasses.field(default="", repr=False)


@record
class MutableRecord:
    """Mutable, with a list default."""

    items: list[int] = field(default_factory=list)


@dataclass
class MutableTwin:
    """The dataclass twin of MutableRecord."""

    items: list[int] = dataclasses.field(default_factory=list)


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
    twin = FrozenTwin("a")
    for target in (item, twin):
        with pytest.raises(AttributeError):
            target.size = 3  # type: ignore[misc]
        with pytest.raises(AttributeError):
            del target.name  # type: ignore[misc]
        with pytest.raises(AttributeError):
            target.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(records.FrozenInstanceError, match="cannot assign to field 'size'"):
        item.size = 3  # type: ignore[misc]
    assert item == FrozenRecord("a")


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


def test_the_record_tools_do_what_the_dataclass_ones_do() -> None:
    item, twin = FrozenRecord("a", 1, "n", "s"), FrozenTwin("a", 1, "n", "s")
    assert records.is_record(item) and records.is_record(FrozenRecord)
    assert not records.is_record(twin)
    assert records.replace(item, size=5) == FrozenRecord("a", 5, "n", "s")
    assert records.asdict(item) == dataclasses.asdict(twin)
    assert [f.name for f in records.fields(item)] == [f.name for f in dataclasses.fields(twin)]
    assert pickle.loads(pickle.dumps(item)) == item
    assert copy.deepcopy(MutableRecord([1])) == MutableRecord([1])
    mutable = MutableRecord()
    mutable.items = [3]
    assert mutable == MutableRecord([3])
    with pytest.raises(TypeError):
        hash(mutable)
    with pytest.raises(TypeError):
        records.replace(item, nosuch=1)  # type: ignore[call-arg]


@record(frozen=True)
class Inner:
    """Held inside Outer."""

    tags: tuple[str, ...] = ()


@record
class Outer:
    """Records, tuples, lists, dicts and a namedtuple inside one record."""

    inner: Inner
    many: list[Inner] = field(default_factory=list)
    table: dict[str, Inner] = field(default_factory=dict)
    path: Path = Path("/x")


@dataclass(frozen=True)
class InnerTwin:
    """The dataclass twin of Inner."""

    tags: tuple[str, ...] = ()


@dataclass
class OuterTwin:
    """The dataclass twin of Outer."""

    inner: InnerTwin
    many: list[InnerTwin] = dataclasses.field(default_factory=list)
    table: dict[str, InnerTwin] = dataclasses.field(default_factory=dict)
    path: Path = Path("/x")


def test_asdict_goes_into_nested_records_as_the_dataclass_one_does() -> None:
    ours = Outer(Inner(("a",)), [Inner(), Inner(("b", "c"))], {"k": Inner(("d",))})
    twin = OuterTwin(InnerTwin(("a",)), [InnerTwin(), InnerTwin(("b", "c"))],
                     {"k": InnerTwin(("d",))})
    assert records.asdict(ours) == dataclasses.asdict(twin)
    assert records.asdict(ours)["table"] is not ours.table  # a copy, not the record's own
    with pytest.raises(TypeError):
        records.asdict(Outer)


@record
class Base:
    """A base record."""

    name: str
    size: int = 1


@record
class Derived(Base):
    """Its fields follow the base's, as a dataclass's do."""

    extra: str = "e"
    cache: dict[str, int] | None = field(default=None, init=False, compare=False)


def test_inheritance_and_init_false_fields() -> None:
    item = Derived("n", 2, "x")
    assert [f.name for f in records.fields(item)] == ["name", "size", "extra", "cache"]
    assert item.cache is None and item == Derived("n", 2, "x")
    item.cache = {"a": 1}
    assert item == Derived("n", 2, "x")  # cache is out of comparison
    with pytest.raises(TypeError):
        Derived("n", cache={})  # type: ignore[call-arg]
    assert records.replace(item, size=3) == Derived("n", 3, "x")
    assert repr(Base("b")) == "Base(name='b', size=1)"


def test_a_declaration_dataclasses_refuses_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument"):
        record(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))
    with pytest.raises(ValueError, match="mutable default"):
        record(type("Bad", (), {"__annotations__": {"a": "list[int]"}, "a": []}))
    unset = type("Bad", (), {"__annotations__": {"a": "int"}, "a": field(init=False)})
    with pytest.raises(TypeError, match="init=False and no default"):
        record(unset)  # at the declaration, not at the first instance


def test_init_is_compiled_at_the_first_instance_and_then_called_directly() -> None:
    @record
    class Late:
        name: str
        size: int = 1

    class Plain(Late):  # not a record: inherits the record's __init__
        pass

    stub = Late.__dict__["__init__"]
    assert Plain("p").size == 1 and Late.__dict__["__init__"] is not stub
    compiled = Late.__dict__["__init__"]
    assert Late("a", 2) == Late(name="a", size=2) and Late.__dict__["__init__"] is compiled
    assert "Late.__init__" in compiled.__qualname__ and "Late.__init__" in stub.__qualname__
    with pytest.raises(TypeError):
        Late()  # type: ignore[call-arg]


def test_the_model_imports_neither_dataclasses_nor_inspect() -> None:
    """The point of records.py: start-up without dataclasses and inspect (~30 ms)."""
    code = ("import sys, reconciler.model.desired, reconciler.model.observed, "
            "reconciler.model.actions, reconciler.spec.compose.nodes; "
            "print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"
