"""A service's `env_file` -> the container's `env_file` entries, in Compose's format.

Compose reads a service's env files with its dotenv rules unless `format: raw` (literal
KEY=VALUE lines, which is Docker's format); each entry says which (`format: compose` or
`docker`). `${VAR}` in a Compose-format file reads the project's variables first (process
environment over `.env`); a stack has no variables, so the mapping reads each file once,
notes which project variables it looked up and writes those in the entry's `variables`
(only their names and the values Compose would use; never a value of the file).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.spec.compose.dotenv import EnvFileError, service_env_file
from reconciler.spec.compose.located import StackOut
from reconciler.spec.compose.service import Service
from reconciler.spec.files import parse_env_file, read_env_file, resolve_path


def env_file(svc: Service, key: str, value: Any) -> None:
    """`required: false` drops a missing file, as Compose does; a path ending in .age stays
    clear text (Compose never decrypts)."""
    entries = value if isinstance(value, list) else [value]
    found: list[Any] = []
    svc.put("env_file", found, key)
    for i, entry in enumerate(entries):
        long = entry if isinstance(entry, dict) else {"path": entry}
        came_from = (key, i) if isinstance(value, list) else (key,)
        for name in sorted(set(long) - {"path", "required", "format"}):
            svc.unsupported(*came_from, name)
        given = long.get("format")
        if not (given is None or given == "raw"):
            svc.error((*came_from, "format"), "env_file `format` must be `raw` or left out "
                      "(Compose's own dotenv format)")
            continue
        path = str(long.get("path", ""))
        if long.get("required") is False and not resolve_path(svc.out.project.project_dir,
                                                              path).exists():
            continue
        svc.out.trace(("containers", svc.name, "env_file", len(found)), svc.at(*came_from))
        out: dict[str, Any] = {"path": path, "format": "docker" if given else "compose"}
        found.append(out | {"encrypted": "none"} if path.endswith(".age") else out)


def record_variables(out: StackOut, name: str) -> None:
    """Once the container is written (its `env` is a lookup too): each Compose-format
    entry gets the project variables its file reads. A file that cannot be read or parsed
    is left to the stack checks, which locate the problem."""
    container: dict[str, Any] = out.data["containers"][name]
    env = {str(k): _text(v) for k, v in (container.get("env") or {}).items()}
    earlier: dict[str, str] = {}
    for entry in container.get("env_file") or []:
        try:
            content = read_env_file(Path(entry["path"]))
            if entry["format"] == "docker":
                earlier.update(parse_env_file(content).entries)
                continue
            used: dict[str, str] = {}
            pairs = service_env_file(content, _Recording(out.project.environment, used), env,
                                     earlier)
        except (OSError, ValueError, EnvFileError):
            continue
        earlier.update((key, value) for _, key, value in pairs)
        if used:
            entry["variables"] = dict(sorted(used.items()))


def _text(value: Any) -> str:
    """As the stack pipeline reads `env` values (true -> "true")."""
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


class _Recording(Mapping[str, str]):
    """The project's variables, noting each one read."""

    def __init__(self, variables: Mapping[str, str], used: dict[str, str]) -> None:
        self.variables = variables
        self.used = used

    def __getitem__(self, name: str) -> str:
        value = self.variables[name]
        self.used[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)
