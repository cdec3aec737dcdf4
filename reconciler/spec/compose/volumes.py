"""Compose `volumes` (short and long forms), `tmpfs`, `configs` and `secrets` of a service
-> the stack's long volume form and `secrets`.

An anonymous volume (`- /data`) becomes a stack volume named `<service>-anon-<n>`: both
keep the data across a replace, which is what people rely on."""

from __future__ import annotations

from typing import Any

from reconciler.spec.compose.service import Service

_MODES = {"rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private",
          "rprivate", "cached", "delegated", "consistent"}
_LONG = {"type", "source", "target", "read_only", "tmpfs", "bind", "volume", "consistency"}


def volumes(svc: Service, key: str, value: Any) -> None:
    found: list[dict[str, Any]] = svc.container().setdefault("volumes", [])
    svc.out.trace(("containers", svc.name, "volumes"), svc.at(key))
    for i, entry in enumerate(value or []):
        mount = _long(svc, i, entry) if isinstance(entry, dict) else _short(svc, i, str(entry))
        if mount is not None:
            _add(svc, mount, (key, i), found)


def _add(svc: Service, mount: dict[str, Any], came_from: tuple[str | int, ...],
         found: list[dict[str, Any]]) -> None:
    where = ("containers", svc.name, "volumes", len(found))
    found.append(mount)
    svc.out.trace(where, svc.at(*came_from))
    if mount["type"] == "volume":
        _declared(svc, mount["source"], came_from)


def _declared(svc: Service, name: str, came_from: tuple[str | int, ...]) -> None:
    if name.startswith(f"{svc.name}-anon-"):
        svc.out.data.setdefault("volumes", {})[name] = {}
        svc.out.trace(("volumes", name), svc.at(*came_from))
    elif name not in (svc.out.project.data.get("volumes") or {}):
        svc.error(came_from, f"volume `{name}` is not declared under the top-level "
                  "`volumes:`")


def _anonymous(svc: Service) -> str:
    declared = svc.out.data.get("volumes") or {}
    n = 1 + sum(1 for v in declared if v.startswith(f"{svc.name}-anon-"))
    return f"{svc.name}-anon-{n}"


def _short(svc: Service, i: int, text: str) -> dict[str, Any] | None:
    parts = text.split(":")
    if len(parts) == 1:
        return {"type": "volume", "source": _anonymous(svc), "target": parts[0]}
    if len(parts) > 3 or not parts[0] or not parts[1]:
        svc.error(("volumes", i), f"volume `{text}`: expected SOURCE:TARGET[:MODE] or TARGET")
        return None
    source, target = parts[0], parts[1]
    mount: dict[str, Any] = {"type": "bind" if source[0] in "./~" else "volume",
                             "source": source, "target": target}
    for mode in parts[2].split(",") if len(parts) == 3 else []:
        if mode == "ro":
            mount["read_only"] = True
        elif mode not in _MODES:
            svc.error(("volumes", i), f"volume `{text}`: unknown mode `{mode}`")
        elif mode != "rw":
            svc.warn(("volumes", i), f"volume mode `{mode}` is not supported by reconcile; "
                     "ignored")
    return mount


def _long(svc: Service, i: int, entry: dict[str, Any]) -> dict[str, Any] | None:
    kind = entry.get("type", "volume")
    for name in sorted(set(entry) - _LONG) + (["consistency"] if "consistency" in entry else []):
        svc.unsupported("volumes", i, name)
    if kind not in ("bind", "volume", "tmpfs"):
        svc.error(("volumes", i, "type"), f"volume type `{kind}` is not supported; expected "
                  "bind, volume or tmpfs")
        return None
    mount: dict[str, Any] = {"type": kind, "target": entry.get("target")}
    if kind != "tmpfs":
        mount["source"] = entry.get("source") or _anonymous(svc)
    if entry.get("read_only"):
        mount["read_only"] = True
    for name in ("bind", "volume", "tmpfs"):
        options: dict[str, Any] = entry.get(name) or {}
        for option in sorted(options):
            if name == "tmpfs" and option == "size":
                mount["size"] = options["size"]
            elif not (name == "bind" and option == "create_host_path" and options[option]):
                svc.unsupported("volumes", i, name, option)
    return mount


def tmpfs(svc: Service, key: str, value: Any) -> None:
    found: list[dict[str, Any]] = svc.container().setdefault("volumes", [])
    svc.out.trace(("containers", svc.name, "volumes"), svc.at(key))
    entries = [value] if isinstance(value, str) else list(value or [])
    for i, text in enumerate(entries):
        came_from: tuple[str | int, ...] = (key,) if isinstance(value, str) else (key, i)
        target, _, options = str(text).partition(":")
        mount: dict[str, Any] = {"type": "tmpfs", "target": target}
        for option in filter(None, options.split(",")):
            name, _, size = option.partition("=")
            if name == "size":
                mount["size"] = size
            else:
                svc.warn(came_from, f"tmpfs option `{option}` is not supported by reconcile; "
                         "ignored")
        _add(svc, mount, came_from, found)


def configs(svc: Service, key: str, value: Any) -> None:
    """A config is a file Compose binds read-only at `/<name>` (or `target`)."""
    found: list[dict[str, Any]] = svc.container().setdefault("volumes", [])
    for i, entry in enumerate(value or []):
        source, target = _reference(svc, key, i, entry, "/")
        file = _file_of(svc, "configs", source, (key, i))
        if file is not None:
            _add(svc, {"type": "bind", "source": file, "target": target, "read_only": True},
                 (key, i), found)


def secrets(svc: Service, key: str, value: Any) -> None:
    """A secret is a file read at `/run/secrets/<name>` (or `target`); Compose never
    decrypts, so neither does the stack made from it (`encrypted: none`)."""
    found: list[dict[str, Any]] = []
    svc.put("secrets", found, key)
    for i, entry in enumerate(value or []):
        source, target = _reference(svc, key, i, entry, "/run/secrets/")
        file = _file_of(svc, "secrets", source, (key, i))
        if file is None:
            continue
        secret: dict[str, Any] = {"source": file, "target": target, "encrypted": "none"}
        if isinstance(entry, dict) and "mode" in entry:
            secret["mode"] = _mode(entry["mode"])
        svc.out.trace(("containers", svc.name, "secrets", len(found)), svc.at(key, i))
        found.append(secret)


def _reference(svc: Service, key: str, i: int, entry: Any, folder: str) -> tuple[str, str]:
    if not isinstance(entry, dict):
        return str(entry), folder + str(entry)
    for name in sorted(set(entry) - {"source", "target", "mode"}):
        svc.unsupported(key, i, name)
    source = str(entry.get("source", ""))
    if key == "configs" and "mode" in entry:
        svc.unsupported(key, i, "mode", why="the file is bound with its own mode")
    target = str(entry.get("target") or source)
    return source, target if target.startswith("/") else folder + target


def _file_of(svc: Service, kind: str, name: str, came_from: tuple[str | int, ...]) -> str | None:
    declared = (svc.out.project.data.get(kind) or {}).get(name)
    if not isinstance(declared, dict):
        svc.error(came_from, f"{kind[:-1]} `{name}` is not declared under the top-level "
                  f"`{kind}:`")
        return None
    if "file" not in declared:
        return None  # the top-level entry is reported once, by to_stack
    return str(declared["file"])


def _mode(value: Any) -> int:
    """Compose reads `0440` as octal (YAML 1.1); a string keeps it so here too."""
    if isinstance(value, str):
        return int(value, 8)
    return int(value)
