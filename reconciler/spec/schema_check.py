"""JSON Schema validation of one loaded stack file, with errors turned into located,
readable Problems ("unknown key `restrat` in container `web`; did you mean `restart`?")."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model.errors import Problem
from reconciler.spec.loaded import JsonPath, LoadedFile

if TYPE_CHECKING:  # jsonschema costs ~80 ms to import: only when a file must be checked
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    from reconciler.spec.schema_fast import Check

# Package data, next to this package in a checkout and in an installed wheel alike;
# importlib.resources (and the zipfile it brings) only where it is not a plain file.
_SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "stack.schema.json"


def _schema_resource() -> Any:
    if _SCHEMA_FILE.is_file():
        return _SCHEMA_FILE
    from importlib import resources

    return resources.files("reconciler").joinpath("schemas", "stack.schema.json")

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "nothing (null)",
}


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_schema_resource().read_text(encoding="utf-8"))
    return loaded


@cache
def schema_bytes() -> bytes:
    data: bytes = _schema_resource().read_bytes()
    return data


@cache
def _fast_check() -> Check | None:
    from reconciler.spec.schema_fast import compiled  # only when a file must be checked

    return compiled(schema())


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def describe(path: Sequence[str | int]) -> str:
    """Name a place in the stack for humans: "container `web`", "`limits` of container `web`"."""
    owners = {"containers": "container", "images": "image", "volumes": "volume"}
    if not path:
        return "the top level"
    if len(path) == 1:
        return f"`{path[0]}`"
    owner = f"{owners.get(str(path[0]), str(path[0]))} `{path[1]}`"
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:])
    return f"`{rest[1:]}` of {owner}" if rest else owner


def show(value: Any) -> str:
    """How a wrong value is named in a message: string "abc", integer 5, a list."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    return "a list" if isinstance(value, list) else "a mapping"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib  # only once a problem is worded

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _schema(error: ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _value(error: ValidationError) -> Any:
    """The failing keyword's value in the schema (typed loosely by jsonschema)."""
    return error.validator_value


def _instance(error: ValidationError) -> Any:
    return error.instance


def _expected(error: ValidationError) -> str:
    hint = _schema(error).get("x-expected")
    if hint:
        return str(hint)
    if error.validator == "type":
        types = _value(error)
        names = [types] if isinstance(types, str) else list(types)
        return " or ".join(_TYPE_NAMES.get(t, t) for t in names)
    return ""


def _branch_type(error: ValidationError) -> str:
    return _expected(error) if error.validator == "type" else ""


def _pick(error: ValidationError) -> ValidationError | str:
    """For anyOf/oneOf: follow the branch whose type matched; if none did, say what the
    branches accept. Returns the deeper error or a ready message."""
    from jsonschema.exceptions import best_match  # loaded already by the validator

    matched = [e for e in error.context if e.validator != "type" or e.relative_path]
    if matched:
        best = best_match(matched)
        return _pick(best) if best.validator in ("anyOf", "oneOf") and best.context else best
    kinds = [_branch_type(e) for e in error.context if not e.relative_path]
    wanted = " or ".join(dict.fromkeys(k for k in kinds if k)) or "something else"
    return f"expected {wanted}, got {show(error.instance)}"


def _allowed_keys(error: ValidationError) -> list[str]:
    return list(_schema(error).get("properties", {}))


def _message(error: ValidationError, path: JsonPath) -> str:
    kind, where, value = error.validator, describe(path), _value(error)
    if kind == "type" or kind == "pattern":
        return f"{where}: expected {_expected(error)}, got {show(error.instance)}"
    if kind == "enum":
        choices = ", ".join(f"`{c}`" for c in value)
        extra = did_you_mean(str(error.instance), map(str, value))
        return f"{where}: expected one of {choices}, got {show(error.instance)}{extra}"
    if kind == "const":
        if path == ("version",):
            return f"unsupported spec version {error.instance!r}; this reconcile reads version 1"
        return f"{where}: expected {value!r}, got {show(error.instance)}"
    if kind == "required":
        missing = [k for k in value if k not in _instance(error)]
        return f"missing required key `{missing[0]}` in {where}"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return f"{where}: expected a number {op[kind]} {value}, got {error.instance}"
    return f"{where}: {error.message}"


def _exactly_one(error: ValidationError, path: JsonPath) -> str:
    # The choices are the oneOf branches' one required key each: listed once, in the schema.
    keys = [branch["required"][0] for branch in _schema(error)["oneOf"]]
    present = [k for k in keys if k in _instance(error)]
    choices = ", ".join(f"`{k}`" for k in keys)
    found = " and ".join(f"`{k}`" for k in present) if present else "none"
    return f"{describe(path)} needs exactly one of {choices}; found {found}"


def _convert(error: ValidationError, loaded: LoadedFile) -> list[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    if "propertyNames" in error.schema_path:
        key = str(error.instance)
        if error.validator == "enum":  # a closed set of names (ulimits): say which
            names = list(_value(error))
            hint = did_you_mean(key, names) or f"; expected one of {', '.join(names)}"
            message = f"unknown name `{key}` in {describe(path)}{hint}"
        else:
            expected = _expected(error) or "letters, digits and -"
            message = f"invalid name `{key}` in {describe(path)}: {expected}"
        return [loaded.problem((*path, key), message, at_key=True)]
    if error.validator == "additionalProperties":
        allowed = _allowed_keys(error)
        patterns = list(_schema(error).get("patternProperties", {}))
        extras = [
            k
            for k in _instance(error)
            if k not in allowed and not any(re.search(p, k) for p in patterns)
        ]
        return [
            loaded.problem(
                (*path, k),
                f"unknown key `{k}` in {describe(path)}{did_you_mean(k, allowed)}",
                at_key=True,
            )
            for k in extras
        ]
    if error.validator == "oneOf" and "x-exactly-one" in _schema(error):
        if not isinstance(error.instance, dict):
            return []  # the `type` error says it all
        return [loaded.problem(path, _exactly_one(error, path))]
    if error.validator in ("anyOf", "oneOf") and error.context:
        picked = _pick(error)
        if isinstance(picked, str):
            return [loaded.problem(path, f"{describe(path)}: {picked}")]
        return _convert(picked, loaded)
    return [loaded.problem(path, _message(error, path))]


def _cache_key(loaded: LoadedFile) -> str:
    digest = hashlib.sha256(schema_bytes())
    digest.update(loaded.canonical_json().encode())
    return digest.hexdigest()


def schema_problems(loaded: LoadedFile) -> list[Problem]:
    """The compiled yes/no check first (spec/schema_fast.py); only data it refuses goes to
    jsonschema, whose errors become the located, worded problems."""
    fast = _fast_check()
    if fast is not None and fast(loaded.data):
        return []
    problems: list[Problem] = []
    for error in _validator().iter_errors(loaded.data):
        problems.extend(_convert(error, loaded))
    return problems


def check_schema(loaded: LoadedFile, cache_dir: Path | None = None) -> list[Problem]:
    """Schema problems of one file. With `cache_dir`, data already found valid against
    this very schema is not checked again: the result depends on nothing else."""
    key = _cache_key(loaded) if cache_dir is not None else ""
    if cache_dir is not None and (cache_dir / key).exists():
        return []
    problems = schema_problems(loaded)
    if cache_dir is not None and not problems:
        with contextlib.suppress(OSError):  # a read-only state dir only costs speed
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            (cache_dir / key).touch()
    return sorted(set(problems))
