"""One container's fields: short forms expanded, defaults filled, files hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

from reconciler.model.desired import (
    HEALTH_INTERVAL,
    HEALTH_RETRIES,
    HEALTH_START_PERIOD,
    HEALTH_TIMEOUT,
    STOP_GRACE_PERIOD,
    Backoff,
    Condition,
    Dependency,
    Healthcheck,
    HealthKind,
    Limits,
    Mount,
    MountType,
    NetworkMode,
    PortMapping,
    RestartName,
    RestartPolicy,
    Ulimit,
)
from reconciler.spec import units
from reconciler.spec.env_files import env_file_entries, file_values, values_digest
from reconciler.spec.files import resolve_path, sha256_file
from reconciler.spec.secret_files import secret_files
from reconciler.spec.secrets import read_env_text
from reconciler.spec.semantic_container import port_mappings, ulimit_pair


def scalar_text(value: Any) -> str:
    """Env and label values: YAML scalars as the user wrote them (true -> "true")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def env_pairs(env: dict[str, Any] | list[str] | None) -> list[tuple[str, str]]:
    if env is None:
        return []
    if isinstance(env, dict):
        return [(k, scalar_text(v)) for k, v in env.items()]
    return [tuple(item.split("=", 1)) for item in env]  # type: ignore[misc]


def shell_form(value: str | list[str] | None) -> tuple[str, ...] | None:
    """A list is exec form; a single string runs through `/bin/sh -c`, like Compose."""
    if value is None:
        return None
    if isinstance(value, str):
        return ("/bin/sh", "-c", value)
    return tuple(value)


def container_fields(key: str, spec: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Keyword arguments for ContainerSpec, everything but identity and image."""
    env, secret_env, env_hash = _environment(spec, base_dir)
    user = spec.get("user")
    return {
        "entrypoint": shell_form(spec.get("entrypoint")),
        "command": shell_form(spec.get("command")),
        "env": env,
        "secret_env": secret_env,
        "secret_files": secret_files(spec, base_dir),
        "env_file_hash": env_hash,
        "ports": tuple(p for entry in spec.get("ports") or [] for p in _ports(entry)),
        "mounts": tuple(_mount(entry, base_dir) for entry in spec.get("volumes") or []),
        "limits": _limits(spec.get("limits") or {}),
        "restart": _restart(spec.get("restart", "no")),
        "healthcheck": _healthcheck(spec.get("healthcheck")),
        "depends_on": _depends_on(spec.get("depends_on")),
        "hostname": spec.get("hostname", key),
        "labels": tuple(sorted((k, scalar_text(v)) for k, v in (spec.get("labels") or {}).items())),
        "user": str(user) if user is not None else None,
        "workdir": spec.get("workdir"),
        "read_only": spec.get("read_only", False),
        "cap_add": tuple(spec.get("cap_add") or ()),
        "cap_drop": tuple(spec.get("cap_drop") or ()),
        "security_opt": tuple(spec.get("security_opt") or ()),
        "init": spec.get("init", False),
        "stop_signal": units.parse_signal(spec["stop_signal"]) if "stop_signal" in spec else None,
        "stop_grace_period": units.parse_duration(spec.get("stop_grace_period", STOP_GRACE_PERIOD)),
        "mac_address": spec.get("mac_address"),
        "dns": tuple(spec.get("dns") or ()),
        "network": cast(NetworkMode, spec.get("network", "private")),
        "update_order": (spec.get("update") or {}).get("order", "stop-first"),
        "update_deadline": _optional_duration((spec.get("update") or {}).get("deadline")),
    }


def _optional_duration(value: str | float | None) -> float | None:
    return None if value is None else units.parse_duration(value)


def _ports(entry: str | dict[str, Any]) -> tuple[PortMapping, ...]:
    return port_mappings(entry)


Env = tuple[tuple[str, str], ...]


def _environment(spec: dict[str, Any], base_dir: Path) -> tuple[Env, Env, str]:
    """(env, secret env, env files' hash). env_file entries first (later files win), `env`
    overrides; sorted by name. Variables whose winning value comes from an encrypted file
    are the secret env: kept apart so that they are never recorded or printed.

    The hash covers the env files' bytes, in order: simple to explain ("you edited it, it
    is replaced"), even though a comment-only edit then replaces the container too. For an
    encrypted file it is the hash of the clear text (the ciphertext changes at every
    re-encryption; a changed secret must replace the container, an unchanged one not)."""
    own_env = dict(env_pairs(spec.get("env")))
    merged: dict[str, tuple[str, bool]] = {}
    digest = hashlib.sha256()
    entries = [entry for _, entry in env_file_entries(spec)]
    for entry in entries:
        path = resolve_path(base_dir, entry.text)
        content = read_env_text(path, entry.encrypted)
        if entry.encrypted:
            digest.update(("clear:" + hashlib.sha256(content.encode()).hexdigest()).encode())
        else:
            digest.update(sha256_file(path).encode())
        earlier = {k: v for k, (v, _) in merged.items()}
        values = file_values(content, entry, own_env, earlier).entries
        if entry.compose and entry.encrypted:
            # `${VAR}` makes the values more than the bytes; clear values are in `env`
            # (hashed) already, so a clear file's hash stays the one of its bytes
            digest.update(("values:" + values_digest(values)).encode())
        merged.update((k, (v, entry.encrypted)) for k, v in values)
    merged.update((k, (v, False)) for k, v in own_env.items())
    env_hash = "sha256:" + digest.hexdigest() if entries else ""
    env = tuple(sorted((k, v) for k, (v, secret) in merged.items() if not secret))
    secret_env = tuple(sorted((k, v) for k, (v, secret) in merged.items() if secret))
    return env, secret_env, env_hash


def _mount(entry: str | dict[str, Any], base_dir: Path) -> Mount:
    if isinstance(entry, str):
        short = units.parse_volume(entry)
        kind: MountType = "bind" if short.is_bind else "volume"
        source, target, read_only, size = short.source, short.target, short.read_only, None
    else:
        kind = cast(MountType, entry["type"])
        source, target = entry.get("source", ""), entry["target"]
        read_only = entry.get("read_only", False)
        size = units.parse_size(entry["size"]) if "size" in entry else None
    if kind != "bind":
        return Mount(kind, target, source, read_only, size)
    path = resolve_path(base_dir, source)
    # Only files are hashed: a directory bind mount is a live view of the folder, but an
    # editor replaces a file's inode on save, which a single-file bind mount never sees.
    content = sha256_file(path) if path.is_file() else ""
    return Mount("bind", target, str(path), read_only, None, content)


def _limits(spec: dict[str, Any]) -> Limits:
    def size(name: str) -> int | None:
        return units.parse_size(spec[name]) if name in spec else None

    ulimits = tuple(
        Ulimit(name, *ulimit_pair(value))
        for name, value in sorted((spec.get("ulimits") or {}).items())
    )
    cpus = spec.get("cpus")
    cpuset = spec.get("cpuset")
    return Limits(
        memory=size("memory"),
        memory_swap=units.parse_swap(spec["memory_swap"]) if "memory_swap" in spec else None,
        cpus=float(cpus) if cpus is not None else None,
        cpu_shares=spec.get("cpu_shares"),
        cpuset=str(cpuset) if cpuset is not None else None,
        pids=spec.get("pids"),
        ulimits=ulimits,
    )


def _restart(spec: str | dict[str, Any]) -> RestartPolicy:
    if isinstance(spec, str):
        name, retries = units.parse_restart(spec)
        return RestartPolicy(cast(RestartName, name), retries)
    defaults = Backoff()
    given = spec.get("backoff") or {}

    def duration(name: str, default: float) -> float:
        return units.parse_duration(given[name]) if name in given else default

    backoff = Backoff(
        initial=duration("initial", defaults.initial),
        max=duration("max", defaults.max),
        factor=float(given.get("factor", defaults.factor)),
        reset_after=duration("reset_after", defaults.reset_after),
    )
    return RestartPolicy(cast(RestartName, spec["policy"]), spec.get("max_retries"), backoff)


def _healthcheck(spec: dict[str, Any] | None) -> Healthcheck | None:
    if spec is None:
        return None
    kind: HealthKind = next(k for k in ("exec", "http", "tcp") if k in spec)  # type: ignore[assignment]
    probe = spec[kind]

    def duration(name: str, default: float) -> float:
        return units.parse_duration(spec[name]) if name in spec else default

    return Healthcheck(
        kind=kind,
        exec=tuple(probe) if kind == "exec" else (),
        port=probe["port"] if kind != "exec" else None,
        path=probe.get("path", "/") if kind == "http" else "/",
        interval=duration("interval", HEALTH_INTERVAL),
        timeout=duration("timeout", HEALTH_TIMEOUT),
        retries=spec.get("retries", HEALTH_RETRIES),
        start_period=duration("start_period", HEALTH_START_PERIOD),
        on_unhealthy=spec.get("on_unhealthy", "none"),
    )


def _depends_on(spec: list[str] | dict[str, Any] | None) -> tuple[Dependency, ...]:
    if spec is None:
        return ()
    if isinstance(spec, list):
        return tuple(Dependency(name) for name in sorted(spec))
    deps = []
    for name, value in sorted(spec.items()):
        condition = value["condition"] if isinstance(value, dict) else value
        deps.append(Dependency(name, cast(Condition, condition)))
    return tuple(deps)
