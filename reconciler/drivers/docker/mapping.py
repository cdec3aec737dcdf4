"""ContainerSpec -> Engine API create parameters, and the engine's container JSON ->
ObservedContainer. Pure: no engine calls.

Besides the ownership labels, two labels of our own are written on every container so
that observe() can give back what the native driver keeps in its record:
`io.reconcile.spec` (the JSON of hashing.hashed_fields, for field-by-field explanations
of a replacement) and `io.reconcile.healthcheck` (the check in effect, the spec's or the
image's, which the control loop runs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from reconciler.model import hashing
from reconciler.model import labels as labelkeys
from reconciler.model.desired import ContainerSpec, Healthcheck, Mount
from reconciler.model.observed import ObservedContainer, State
from reconciler.model.records import asdict

SPEC_LABEL = "io.reconcile.spec"
HEALTH_LABEL = "io.reconcile.healthcheck"
# the token of a loopback container's /etc folder (loopback.py)
ETC_LABEL = "io.reconcile.etc"
NETWORK_PREFIX = "reconcile-"
NANOSECONDS = 1_000_000_000

_STATES: dict[str, State] = {
    "created": "created", "running": "running", "paused": "paused", "restarting": "running",
    "exited": "exited", "dead": "dead", "removing": "dead",
}  # fmt: skip


def network_name(stack: str) -> str:
    """The user-defined bridge of a stack: its containers resolve each other by key."""
    return f"{NETWORK_PREFIX}{stack}"


def volume_name(stack: str, name: str) -> str:
    return f"{stack}-{name}"


def container_labels(spec: ContainerSpec, digest: str, check: Healthcheck | None) -> dict[str, str]:
    labels = labelkeys.ownership_labels(spec, digest)
    labels[SPEC_LABEL] = json.dumps(hashing.hashed_fields(spec), sort_keys=True,
                                    separators=(",", ":"))
    if check is not None:
        labels[HEALTH_LABEL] = json.dumps(asdict(check), separators=(",", ":"))
    return labels


def engine_healthcheck(spec: ContainerSpec) -> dict[str, Any] | None:
    """exec checks are the engine's own (visible in `docker ps`); a tcp/http check has no
    command to give the engine (the image may have no client), so reconcile probes it, and
    an image HEALTHCHECK it overrides is switched off."""
    check = spec.healthcheck
    if check is None:
        return None
    if check.kind != "exec":
        return {"test": ["NONE"]}
    return {
        "test": ["CMD", *check.exec],
        "interval": int(check.interval * NANOSECONDS),
        "timeout": int(check.timeout * NANOSECONDS),
        "retries": check.retries,
        "start_period": int(check.start_period * NANOSECONDS),
    }


def _mount(spec: ContainerSpec, m: Mount) -> dict[str, Any]:
    if m.type == "tmpfs":
        mount: dict[str, Any] = {"Target": m.target, "Source": None, "Type": "tmpfs",
                                 "ReadOnly": m.read_only}
        if m.size:
            mount["TmpfsOptions"] = {"SizeBytes": m.size}
        return mount
    source = volume_name(spec.stack, m.source) if m.type == "volume" else m.source
    return {"Target": m.target, "Source": source, "Type": m.type, "ReadOnly": m.read_only}


def _port_bindings(spec: ContainerSpec) -> dict[str, list[dict[str, str]]]:
    bindings: dict[str, list[dict[str, str]]] = {}
    for p in spec.ports:
        bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip or "", "HostPort": str(p.host_port)})
    return bindings


def _dropped_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def host_config(spec: ContainerSpec) -> dict[str, Any]:
    """The create call's HostConfig (Engine API 1.41 JSON)."""
    lim = spec.limits
    mode = {"private": network_name(spec.stack), "host": "host", "none": "none"}[spec.network]
    return _dropped_none({
        "NetworkMode": mode,
        "PortBindings": _port_bindings(spec) or None,
        "Mounts": [_mount(spec, m) for m in spec.mounts] or None,
        "Memory": lim.memory,
        "MemorySwap": lim.memory_swap,
        "NanoCpus": int(lim.cpus * NANOSECONDS) if lim.cpus is not None else None,
        "CpuShares": lim.cpu_shares,
        "CpusetCpus": lim.cpuset,
        "PidsLimit": lim.pids,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard}
                    for u in lim.ulimits] or None,
        "CapAdd": list(spec.cap_add) or None,
        "CapDrop": list(spec.cap_drop) or None,
        "ReadonlyRootfs": spec.read_only or None,
        "SecurityOpt": list(spec.security_opt) or None,
        "Dns": list(spec.dns) or None,
        "Init": spec.init or None,  # the engine's docker-init (tini), as `docker run --init`
        # The loop owns restarts (docs/docker.md): the engine never restarts on its own.
        "RestartPolicy": {"Name": "no"},
    })


def create_body(spec: ContainerSpec, image_ref: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The body of POST /containers/create (Engine API 1.41 JSON): exactly the spec, so
    the environment carries no proxy variables of the Docker config either."""
    check = engine_healthcheck(spec)
    body = _dropped_none({
        "Image": image_ref,
        "Cmd": list(spec.command) if spec.command is not None else None,
        "Entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "Env": [f"{k}={v}" for k, v in spec.env],
        "User": spec.user,
        "WorkingDir": spec.workdir,
        "Hostname": (spec.hostname or spec.name) if spec.network != "host" else None,
        "MacAddress": spec.mac_address,
        "Labels": dict(labels),
        "StopSignal": spec.stop_signal,
        "StopTimeout": math.ceil(spec.stop_grace_period),
        "Healthcheck": None if check is None else {_HEALTH_KEYS[k]: v for k, v in check.items()},
        "ExposedPorts": {f"{p.container_port}/{p.protocol}": {} for p in spec.ports} or None,
        "HostConfig": host_config(spec),
    })
    if spec.network == "private":
        body["NetworkingConfig"] = {
            "EndpointsConfig": {network_name(spec.stack): {"Aliases": [spec.key]}}}
    return body


_HEALTH_KEYS = {"test": "Test", "interval": "Interval", "timeout": "Timeout",
                "retries": "Retries", "start_period": "StartPeriod"}


def parse_time(text: Any) -> float | None:
    """The engine's RFC 3339 nanosecond times; its zero time ("0001-...") is None."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    fraction, zone = "", "Z"
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits][:6], rest[digits:] or "Z"
    else:
        zone = head[19:] or "Z"
        head = head[:19]
    zone = "+00:00" if zone == "Z" else zone
    stamp = f"{head}.{fraction or '0'}{zone}"
    # here, not at the top: an apply's start has no container to read times of (~2 ms)
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def _json_label(labels: Mapping[str, str], key: str) -> Any:
    try:
        return json.loads(labels[key])
    except (KeyError, ValueError):
        return None


def recorded_healthcheck(labels: Mapping[str, str]) -> Healthcheck | None:
    raw = _json_label(labels, HEALTH_LABEL)
    if not isinstance(raw, dict):
        return None
    try:
        raw["exec"] = tuple(raw.get("exec") or ())
        return Healthcheck(**raw)
    except TypeError:
        return None


def _health(state: Mapping[str, Any]) -> str:
    status = (state.get("Health") or {}).get("Status")
    return status if status in ("starting", "healthy", "unhealthy") else "none"


_DRIVER_LABELS = (SPEC_LABEL, HEALTH_LABEL, ETC_LABEL)  # the docker driver's own


def to_observed(info: Mapping[str, Any], earlier_starts: int) -> ObservedContainer:
    """`earlier_starts`: the loop's restarts of this container (the engine counts only its
    own, and it makes none: its restart policy is "no")."""
    labels: dict[str, str] = dict((info.get("Config") or {}).get("Labels") or {})
    state = info.get("State") or {}
    status = _STATES.get(str(state.get("Status")), "unknown")
    if status == "running" and state.get("Paused"):
        status = "paused"
    exited = status in ("exited", "dead")
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    recorded = _json_label(labels, SPEC_LABEL)
    pid = state.get("Pid")
    return ObservedContainer(
        name=str(info.get("Name", "")).lstrip("/"),
        stack=labels[labelkeys.STACK],
        key=labels[labelkeys.CONTAINER],
        labels={k: v for k, v in labels.items() if k not in _DRIVER_LABELS},
        config_hash=labels[labelkeys.CONFIG_HASH],
        image_digest=labels.get(labelkeys.IMAGE_DIGEST, ""),
        state=status,
        exit_code=int(state.get("ExitCode", 0)) if exited else None,
        oom_killed=bool(state.get("OOMKilled")) if exited else False,
        restart_count=earlier_starts + int(info.get("RestartCount") or 0),
        health=_health(state) if status == "running" else "none",  # type: ignore[arg-type]
        pid=pid if isinstance(pid, int) and pid > 0 and not exited else None,
        created_at=parse_time(info.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")) if exited else None,
        recorded_spec=recorded if isinstance(recorded, dict) else None,
        addresses=tuple(sorted(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))),
        healthcheck=recorded_healthcheck(labels),
    )
