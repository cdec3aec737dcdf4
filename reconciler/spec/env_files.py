"""A container's `env_file` entries and their values, in each entry's format.

`format: docker` (the default) is `docker run --env-file`: KEY=VALUE lines taken literally
(spec/files.py). `format: compose` is how Compose v2 reads a service's env_file (its dotenv
rules: quotes, escapes, `export`, comments, multi-line values, `${VAR}`), with the parser of
the Compose loader, imported only for such a file. Compose looks `${VAR}` (and a bare
`KEY`) up in the project's variables, then the service's `environment`, then the values of
the earlier files and lines; a stack has no process variables of its own (its desired state
must not depend on who runs the tool), so the entry carries the ones it reads in
`variables` (the Compose mapping writes them), then comes the container's `env`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.model.records import field, record
from reconciler.spec.files import EnvFile, parse_env_file
from reconciler.spec.secrets import file_entry

JsonPath = tuple[str | int, ...]


@record(frozen=True)
class EnvFileEntry:
    """One `env_file` of a container, as written, with its variables."""
    text: str  # the path as written
    encrypted: bool
    compose: bool  # format: compose
    variables: Mapping[str, str] = field(default_factory=dict)


def env_file_entries(spec: dict[str, Any]) -> Iterator[tuple[JsonPath, EnvFileEntry]]:
    """(the entry's path in the container spec, the entry) of each `env_file` entry."""
    listed = spec.get("env_file")
    if listed is None:
        return
    single = isinstance(listed, str | dict)
    for i, entry in enumerate([listed] if single else listed):
        text, encrypted = file_entry(entry)
        long = entry if isinstance(entry, dict) else {}
        variables = {str(k): str(v) for k, v in (long.get("variables") or {}).items()}
        yield (("env_file",) if single else ("env_file", i),
               EnvFileEntry(text, encrypted, long.get("format") == "compose", variables))


def declared_env(spec: dict[str, Any]) -> dict[str, str]:
    """The container's `env` as text, for lookups (list entries without `=` are the
    semantic check's to refuse, skipped here)."""
    env = spec.get("env")
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in env.items()}
    pairs = (str(item).partition("=") for item in env or [])
    return {key: value for key, sep, value in pairs if sep}


def file_values(content: str, entry: EnvFileEntry, env: Mapping[str, str],
                earlier: Mapping[str, str]) -> EnvFile:
    """The variables of one file (`earlier`: what the files before it set, merged)."""
    if not entry.compose:
        return parse_env_file(content)
    from reconciler.spec.compose.dotenv import EnvFileError, service_env_file

    result = EnvFile()
    try:
        pairs = service_env_file(content, entry.variables, env, earlier)
    except EnvFileError as exc:  # the message names the line and the rule, never a value
        result.errors.append((exc.line, f"line {exc.line}: {exc}"))
        return result
    for line, key, value in pairs:
        if not key:
            result.errors.append((line, f"line {line}: the variable name is empty"))
        elif "\0" in value:
            result.errors.append((line, f"line {line}: the value contains a NUL character"))
        else:
            result.entries.append((key, value))
    return result


def values_digest(entries: list[tuple[str, str]]) -> str:
    """A digest of resolved values: with `${VAR}`, the same bytes can give other values."""
    digest = hashlib.sha256()
    for key, value in entries:
        digest.update(f"{key}\0{value}\0".encode())
    return digest.hexdigest()
