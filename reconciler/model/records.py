"""`@record`: a dataclass whose repr, equality, hash and order are shared, not generated.

Python 3.11's `@dataclass` compiles each method it writes with its own `exec`: six for a
frozen class (`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`).
The ~50 classes a `reconcile plan` imports spent ~60 ms of its start-up there. Here
`__repr__`, `__eq__`, `__hash__` and the ordering methods are the shared functions below,
made once, reading each class's compared fields through one `attrgetter`; they behave as
the generated ones do (tests/unit/model/test_records.py checks them side by side).
`__init__` and a frozen class's `__setattr__`/`__delattr__` stay the dataclass ones: a
hand-made frozen check would run in every `__init__`, and cost more than it saves.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_KEY = "__record_key__"  # the class's attrgetter of its compared fields


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T] | None = None, /, *, frozen: bool = False,
           order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """`@record` or `@record(frozen=True, order=...)`, as `@dataclass` with those flags."""

    def wrap(target: type[T]) -> type[T]:
        return _make(target, frozen, order)

    return wrap if cls is None else wrap(cls)


def _make(cls: type[T], frozen: bool, order: bool) -> type[T]:
    made = dataclasses.dataclass(cls, repr=False, eq=False, frozen=frozen)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]
    compared = [f.name for f in fields if f.compare]
    # an attrgetter is no descriptor; the plain function needs staticmethod not to bind
    setattr(made, _KEY, operator.attrgetter(*compared) if compared else staticmethod(_no_fields))
    _install(made, "__repr__", _repr)
    _install(made, "__eq__", _eq)
    if order:
        for name, method in _ORDER.items():
            _install(made, name, method)
    if frozen:
        _install(made, "__hash__", _hash)
    elif "__hash__" not in cls.__dict__:
        made.__hash__ = None  # type: ignore[assignment]  # mutable and compared: unhashable
    return made


def _install(cls: type, name: str, method: Callable[..., Any]) -> None:
    if name not in cls.__dict__:  # a method the class wrote itself wins, as with @dataclass
        setattr(cls, name, method)


def _no_fields(_: object) -> tuple[()]:
    return ()


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                      for f in dataclasses.fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> object:
    if other.__class__ is self.__class__:
        key = getattr(self, _KEY)
        return bool(key(self) == key(other))
    return NotImplemented


def _hash(self: Any) -> int:
    # one compared field: the key is the value, not a 1-tuple; equal records hash equal all
    # the same, and no hash outlives its process (str hashes are salted per process)
    return hash(getattr(self, _KEY)(self))


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, object], object]:
    def method(self: Any, other: object) -> object:
        if other.__class__ is self.__class__:
            key = getattr(self, _KEY)
            return bool(op(key(self), key(other)))
        return NotImplemented

    return method


_ORDER = {"__lt__": _compare(operator.lt), "__le__": _compare(operator.le),
          "__gt__": _compare(operator.gt), "__ge__": _compare(operator.ge)}
