"""`@record`: the model's value classes, as `@dataclass` makes them, without `dataclasses`.

Importing `dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`): ~30 ms
of every command's start-up, spent before its first line of work. And Python 3.11's
`@dataclass` compiles each method it writes with its own `exec`, six for a frozen class.
A record gets one compiled `__init__`, compiled when its first instance is made; its
`__repr__`, `__eq__`, `__hash__`, ordering and frozen `__setattr__`/`__delattr__` are the
shared functions below, reading each class's compared fields through one `attrgetter`.
They behave as the generated ones do (tests/unit/model/test_records.py checks them side by
side with dataclass twins), and `field`, `fields`, `replace` and `asdict` here stand for
their `dataclasses` namesakes.

Supported: `field(default=, default_factory=, repr=, compare=)`, `frozen`, `order`,
inheritance from another record. Not: `__post_init__`, `kw_only`, `InitVar`, slots.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_KEY = "__record_key__"  # the class's attrgetter of its compared fields
_FIELDS = "__record_fields__"  # name -> Field, base classes' fields first


class FrozenInstanceError(AttributeError):
    """An assignment to, or deletion of, a field of a frozen record."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a record, as `dataclasses.Field` describes one of a dataclass."""

    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr", "type")

    def __init__(self, default: Any, default_factory: Any, repr: bool, compare: bool,
                 init: bool = True) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare
        self.init = init  # False: not a parameter of __init__, always its default


@overload
def field(*, default: T, repr: bool = True, compare: bool = True, init: bool = True) -> T: ...


@overload
def field(*, default_factory: Callable[[], T], repr: bool = True, compare: bool = True,
          init: bool = True) -> T: ...


@overload
def field(*, repr: bool = True, compare: bool = True, init: bool = True) -> Any: ...


def field(*, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True,
          compare: bool = True, init: bool = True) -> Any:
    """A field with a default or a default factory, or left out of repr, comparison or
    `__init__`'s parameters."""
    return Field(default, default_factory, repr, compare, init)


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: type[T] | None = None, /, *, frozen: bool = False,
           order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """`@record` or `@record(frozen=True, order=...)`, as `@dataclass` with those flags."""

    def wrap(target: type[T]) -> type[T]:
        return _make(target, frozen, order)

    return wrap if cls is None else wrap(cls)


def fields(item: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in declaration order."""
    try:
        return tuple(getattr(item, _FIELDS).values())
    except AttributeError:
        raise TypeError("must be called with a record class or instance") from None


def is_record(item: Any) -> bool:
    return hasattr(type(item) if not isinstance(item, type) else item, _FIELDS)


def replace(item: T, /, **changes: Any) -> T:
    """A copy of `item` with `changes`, made through its `__init__`."""
    for name, f in getattr(item, _FIELDS).items():
        if not f.init:
            if name in changes:
                raise ValueError(f"field {name} is init=False and cannot be replaced")
        elif name not in changes:
            changes[name] = getattr(item, name)
    return type(item)(**changes)


def asdict(item: Any) -> dict[str, Any]:
    """`item` as a dict of its fields, records inside it made dicts too, all else copied
    (as `dataclasses.asdict`)."""
    if not is_record(item) or isinstance(item, type):
        raise TypeError("asdict() should be called on record instances")
    result: dict[str, Any] = _plain(item)
    return result


_SCALARS = (str, int, float, bool, type(None), bytes)


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value  # immutable: the deep copy dataclasses makes would be the value itself
    names = getattr(type(value), _FIELDS, None)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    import copy  # only for values of other types, which the model rarely holds

    return copy.deepcopy(value)


def _make(cls: type[T], frozen: bool, order: bool) -> type[T]:
    if "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: records have no __post_init__")
    own = _collect(cls)
    setattr(cls, _FIELDS, own)
    _install(cls, "__init__", _lazy_init(cls, list(own.values()), frozen))
    compared = [f.name for f in own.values() if f.compare]
    # an attrgetter is no descriptor; the plain function needs staticmethod not to bind
    setattr(cls, _KEY, operator.attrgetter(*compared) if compared else staticmethod(_no_fields))
    _install(cls, "__repr__", _repr)
    _install(cls, "__eq__", _eq)
    if order:
        for name, method in _ORDER.items():
            _install(cls, name, method)
    if frozen:
        _install(cls, "__hash__", _hash)
        _install(cls, "__setattr__", _frozen_setattr(cls, own))
        _install(cls, "__delattr__", _frozen_delattr(cls, own))
    elif "__hash__" not in cls.__dict__:
        cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared: unhashable
    return cls


def _collect(cls: type) -> dict[str, Field]:
    """The fields of the bases (first) and of the class's own annotations, in order; a class
    attribute keeps the default, as with @dataclass."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        found.update(getattr(base, _FIELDS, {}))
    # not inspect.get_annotations: importing inspect is the cost this module avoids
    for name, kind in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_class_var(kind):
            continue
        value = cls.__dict__.get(name, MISSING)
        made = value if isinstance(value, Field) else Field(value, MISSING, True, True)
        if isinstance(made.default, (list, dict, set)):
            raise ValueError(f"mutable default {type(made.default)} for field {name} "
                             "is not allowed: use default_factory")
        made.name, made.type = name, kind
        if made.default is MISSING and name in cls.__dict__:
            delattr(cls, name)
        elif made.default is not MISSING:
            setattr(cls, name, made.default)
        found[name] = made
    _check_order(cls, found)
    return found


def _is_class_var(kind: Any) -> bool:
    if isinstance(kind, str):  # a module with `from __future__ import annotations`
        return kind.startswith(("ClassVar", "typing.ClassVar"))
    return kind is ClassVar or getattr(kind, "__origin__", None) is ClassVar


def _check_order(cls: type, found: dict[str, Field]) -> None:
    defaulted = False
    for f in found.values():
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if defaulted and not has_default:
            raise TypeError(f"{cls.__qualname__}: non-default argument {f.name!r} "
                            "follows default argument")
        defaulted = defaulted or has_default


def _lazy_init(cls: type, all_fields: list[Field], frozen: bool) -> Callable[..., None]:
    """An `__init__` that compiles the real one at the first instance and puts it in its
    place: a command imports ~130 records and makes instances of a few dozen, and each
    compile is an `exec`, paid at start-up."""
    for f in all_fields:  # a wrong declaration is still refused at once
        if not f.init and f.default is MISSING and f.default_factory is MISSING:
            raise TypeError(f"{cls.__qualname__}: field {f.name} has init=False and no default")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        compiled = _init(cls, all_fields, frozen)
        if cls.__dict__.get("__init__") is __init__:
            type.__setattr__(cls, "__init__", compiled)
        compiled(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init(cls: type, all_fields: list[Field], frozen: bool) -> Callable[..., None]:
    """One compiled `__init__` per class: a generic one would cost each instance a loop."""
    scope: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _FACTORY}
    params, body = ["self"], []
    for f in all_fields:
        value = f.name
        if f.default_factory is not MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            value = (f"_factory_{f.name}() if {f.name} is _FACTORY else {f.name}" if f.init
                     else f"_factory_{f.name}()")
            params.append(f"{f.name}=_FACTORY")
        elif f.default is not MISSING:
            scope[f"_default_{f.name}"] = f.default
            value = f.name if f.init else f"_default_{f.name}"
            params.append(f"{f.name}=_default_{f.name}")
        elif f.init:
            params.append(f.name)
        else:
            raise TypeError(f"{cls.__qualname__}: field {f.name} has init=False and no default")
        if not f.init:
            params.pop()
        body.append(f"_set(self, {f.name!r}, {value})" if frozen else f"self.{f.name} = {value}")
    source = f"def __init__({', '.join(params)}):\n    " + ("\n    ".join(body) or "pass")
    exec(source, scope)  # the source is made here from field names only
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _frozen_setattr(cls: type, own: dict[str, Field]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        # as @dataclass: a subclass that is not frozen may still set attributes of its own
        if type(self) is cls or name in own:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    return __setattr__


def _frozen_delattr(cls: type, own: dict[str, Field]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in own:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return __delattr__


def _install(cls: type, name: str, method: Callable[..., Any]) -> None:
    if name not in cls.__dict__:  # a method the class wrote itself wins, as with @dataclass
        setattr(cls, name, method)


def _no_fields(_: object) -> tuple[()]:
    return ()


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                      for f in getattr(self, _FIELDS).values() if f.repr)
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
