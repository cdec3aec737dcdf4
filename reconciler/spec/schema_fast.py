"""A yes/no check of data against the stack schema, compiled once into plain closures:
the fast path of spec/schema_check.py. jsonschema builds a validator object per node it
descends into (~0.3 s for 500 containers); this does the same test in a tenth of that and
without importing jsonschema. It only answers "valid"; invalid data (or a schema keyword
not known here) goes to jsonschema, whose errors are the located, worded problems, so the
two must agree on what is valid (tests/unit/spec/test_schema_fast.py checks they do).

    compiled(schema) -> Check | None     None: the schema uses a keyword not handled here
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
_IGNORED = frozenset({"$schema", "$id", "$defs", "title", "description"})


class _Unsupported(Exception):
    pass


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
}


def equal(a: Any, b: Any) -> bool:
    """JSON Schema equality (jsonschema's `equal`): true and 1 differ, 1 and 1.0 do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return bool(a == b)


def _unique(items: list[Any]) -> bool:
    return all(not equal(items[i], items[j]) for i in range(len(items))
               for j in range(i + 1, len(items)))


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, target: str) -> Check:
        if not target.startswith("#/$defs/") or "/" in target[8:]:
            raise _Unsupported(target)
        name = target[8:]
        if name not in self.refs:
            self.refs[name] = lambda v: False  # a recursive $ref sees the final check below
            found = self.node(self.root["$defs"][name])
            self.refs[name] = found
        return lambda v: self.refs[name](v)

    def node(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise _Unsupported(repr(schema))
        found = [self.keyword(k, v, schema) for k, v in schema.items()
                 if k not in _IGNORED and not k.startswith("x-")]
        return _every([c for c in found if c is not None])

    def keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        for table in (_scalar_keyword, self.object_keyword, self.other_keyword):
            found = table(key, value, schema)
            if found is not None:
                return found
        if key in ("properties", "patternProperties"):
            return None  # read by additionalProperties (or below)
        raise _Unsupported(key)

    def other_keyword(self, key: str, value: Any, _: dict[str, Any]) -> Check | None:
        if key == "$ref":
            return self.ref(value)
        if key in ("anyOf", "oneOf"):
            subs = [self.node(s) for s in value]
            if key == "anyOf":
                return _some(subs)
            return lambda v: sum(1 for s in subs if s(v)) == 1
        if key == "items":
            item = self.node(value)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        return None

    def object_keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        if key == "required":
            names = frozenset(value)
            return lambda v: not isinstance(v, dict) or v.keys() >= names
        if key == "propertyNames":
            name_check = self.node(value)
            return lambda v: not isinstance(v, dict) or all(name_check(k) for k in v)
        if key == "additionalProperties" or (key == "properties"
                                             and "additionalProperties" not in schema):
            return self.properties(schema)
        if key == "patternProperties" and "additionalProperties" not in schema \
                and "properties" not in schema:
            return self.properties(schema)
        return None

    def properties(self, schema: dict[str, Any]) -> Check:
        """properties, patternProperties and additionalProperties of one schema, together."""
        props = {k: self.node(s) for k, s in (schema.get("properties") or {}).items()}
        patterns = [(re.compile(p), self.node(s))
                    for p, s in (schema.get("patternProperties") or {}).items()]
        extra = self.node(schema.get("additionalProperties", True))

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, item in v.items():
                matched = False
                if key in props:
                    matched = True
                    if not props[key](item):
                        return False
                for pattern, sub in patterns:
                    if isinstance(key, str) and pattern.search(key):
                        matched = True
                        if not sub(item):
                            return False
                if not matched and not extra(item):
                    return False
            return True
        return check


# Checks run once per value of every container (~30,000 calls for 500): one or two checks
# are joined without a generator (which would cost more than the checks), more in a loop.
def _every(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)

    def every(v: Any) -> bool:
        for check in checks:  # noqa: SIM110 (a loop: all() of a generator is slower)
            if not check(v):
                return False
        return True
    return every


def _some(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) or second(v)

    def some(v: Any) -> bool:
        for check in checks:  # noqa: SIM110 (a loop: any() of a generator is slower)
            if check(v):
                return True
        return False
    return some


def _scalar_keyword(key: str, value: Any, _: dict[str, Any]) -> Check | None:
    if key == "type":
        return _some([_TYPES[t] for t in ([value] if isinstance(value, str) else value)])
    if key in ("enum", "const"):
        allowed = value if key == "enum" else [value]
        texts = frozenset(a for a in allowed if isinstance(a, str))  # a text equals only these
        return lambda v: v in texts if isinstance(v, str) else any(equal(v, a) for a in allowed)
    if key == "pattern":
        pattern = re.compile(value)
        return lambda v: not isinstance(v, str) or pattern.search(v) is not None
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= value
    if key in ("minimum", "maximum", "exclusiveMinimum"):
        compare: Callable[[Any], bool] = {
            "minimum": lambda v: v >= value, "maximum": lambda v: v <= value,
            "exclusiveMinimum": lambda v: v > value}[key]
        return lambda v: not _is_number(v) or compare(v)
    if key in ("minItems", "maxItems"):
        least = key == "minItems"
        return lambda v: not isinstance(v, list) or (len(v) >= value if least
                                                     else len(v) <= value)
    if key == "uniqueItems":
        return lambda v: not value or not isinstance(v, list) or _unique(v)
    return None


def compiled(schema: dict[str, Any]) -> Check | None:
    try:
        return _Compiler(schema).node(schema)
    except (_Unsupported, KeyError, re.error):
        return None
