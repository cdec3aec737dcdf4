"""Config hash and field-level diff of container specs.

The config hash covers every field whose change needs a new container. Fields left out,
because the reconciler applies them without replacing the container:

- replica index / `replicas`: scaling adds or removes containers, it never replaces one;
- `depends_on`: orders creation and start only;
- `restart`: enforced by the reconciler and monitor, not baked into the container;
- `healthcheck`: run by the reconciler from outside the container;
- `stop_signal`, `stop_grace_period`: read from the current spec at stop time;
- `source`: the stack file's path; moving a file must not replace its containers;
- `source_commit`: the git commit the file was read at (provenance): a commit that leaves
  the container's fields alone must not replace it;
- `update_order`, `update_deadline`: how the next replace rolls out, not what runs;
- `secret_env`: the clear values of encrypted env files must never be hashed or recorded;
  `env_file` (the hash of their clear text) stands for them, so a changed secret replaces.

Fields added after containers were first made (`ADDED_LATER`) enter only when they differ
from their default, so upgrading reconcile replaces nothing; a plan still explains a toggle
as `init false -> true`, since the diff fills in the default on the side that lacks it.

The image enters as its *identity* (what the spec names); the image *digest* is compared
separately by the planner, so that a moved tag shows up as `image_digest a -> b`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.model.actions import FieldChange
from reconciler.model.desired import ContainerSpec, Mount, PortMapping

EXCLUDED_FROM_HASH = (
    "replica",
    "depends_on",
    "restart",
    "healthcheck",
    "stop_signal",
    "stop_grace_period",
    "source",
    "source_commit",
    "secret_env",
    "update_order",
    "update_deadline",
)

# Field -> default of the fields hashed only when set (see the module docstring).
ADDED_LATER: Mapping[str, Any] = {"init": False}

# Names Docker, Compose and Kubernetes users give secrets: *_PASSWORD, MYSQL_PWD, *_PASSWD,
# *_SECRET, *_TOKEN, *_API_KEY, *_PRIVATE_KEY, TLS_CERT, *_CREDENTIALS, *_AUTH, SENTRY_DSN,
# *_SALT, *_COOKIE, JWT_*, *_SIGNING_*. A false positive (PWD, the working directory) only
# hides a value; a false negative prints a secret.
_SENSITIVE = re.compile(
    r"pass|pwd|secret|token|key|credential|auth|private|cert|dsn|salt|cookie|jwt|signing"
    r"|hmac|bearer",
    re.IGNORECASE,
)
# A URL with credentials in its userinfo, `scheme://user:password@host`: only the password
# is masked, so a plan still shows which user and host changed.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)([^@/?#\s]+)(@)")
MASK = "(sensitive)"


def mask_text(value: str) -> str:
    """`postgres://u:p@h/db` -> `postgres://u:(sensitive)@h/db`, anywhere in the text."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), value)


def mask_env(name: str, value: Any) -> Any:
    """The value of env variable `name` as it may be printed: masked by name or by shape."""
    if value is None:
        return None
    if _SENSITIVE.search(name):
        return MASK
    return mask_text(value) if isinstance(value, str) else value


def mask_secrets(data: Any) -> Any:
    """A copy of a JSON-like document with env values masked by `mask_env` (an `env` or
    `Env` mapping, or a list of KEY=VALUE) and URL passwords masked in every string."""
    if isinstance(data, Mapping):
        return {k: _mask_env_field(v) if k in ("env", "Env") else mask_secrets(v)
                for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [mask_secrets(item) for item in data]
    return mask_text(data) if isinstance(data, str) else data


def _mask_env_field(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): mask_env(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            if isinstance(item, str) and "=" in item:
                name, _, text = item.partition("=")
                out.append(f"{name}={mask_env(name, text)}")
            elif isinstance(item, list | tuple) and len(item) == 2:  # (name, value) pairs
                out.append([item[0], mask_env(str(item[0]), item[1])])
            else:
                out.append(mask_secrets(item))
        return out
    return mask_secrets(value)


def _port(p: PortMapping) -> str:
    host = f"{p.host_ip}:" if p.host_ip else ""
    return f"{host}{p.host_port}:{p.container_port}/{p.protocol}"


def _mount(m: Mount) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.type, "source": m.source, "read_only": m.read_only}
    if m.size is not None:
        out["size"] = m.size
    if m.content_hash:
        out["content"] = m.content_hash
    return out


def hashed_fields(spec: ContainerSpec) -> dict[str, Any]:
    """The JSON-able form of every field the config hash covers (also what drivers record
    on a container so that a later plan can name the fields that changed)."""
    lim = spec.limits
    return {
        "image": spec.image.identity,
        "entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "command": list(spec.command) if spec.command is not None else None,
        "env": dict(spec.env),
        "env_file": spec.env_file_hash,
        "ports": sorted(_port(p) for p in spec.ports),
        "mounts": {m.target: _mount(m) for m in spec.mounts},
        "limits": {
            "memory": lim.memory,
            "memory_swap": lim.memory_swap,
            "cpus": lim.cpus,
            "cpu_shares": lim.cpu_shares,
            "cpuset": lim.cpuset,
            "pids": lim.pids,
            "ulimits": {u.name: [u.soft, u.hard] for u in lim.ulimits},
        },
        "hostname": spec.hostname,
        "labels": dict(spec.labels),
        "user": spec.user,
        "workdir": spec.workdir,
        "read_only": spec.read_only,
        "cap_add": sorted(spec.cap_add),
        "cap_drop": sorted(spec.cap_drop),
        "security_opt": sorted(spec.security_opt),
        "mac_address": spec.mac_address,
        "dns": list(spec.dns),
        "network": spec.network,
        # Only when named, so containers made before `networks:` existed keep their hash.
        **({"subnet": spec.subnet} if spec.subnet else {}),
        **({"init": True} if spec.init else {}),
        # Secret files by the hash of their clear content, never the content (nor `source`:
        # where the encrypted file lies does not change what the container reads).
        **({"secrets": {s.target: {"content": s.content_hash, "mode": s.mode}
                        for s in spec.secret_files}} if spec.secret_files else {}),
    }


# what json.dumps(..., sort_keys=True, separators=(",", ":")) makes for each call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def config_hash(spec: ContainerSpec) -> str:
    canonical = _CANONICAL.encode(hashed_fields(spec))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    # Mappings contribute only their leaves: an empty `env: {}` that gains `env.TZ` is one
    # change (`env.TZ None -> "UTC"`), not two.
    if isinstance(value, Mapping):
        for k in value:
            _flatten(value[k], f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def _masked(path: str, value: Any) -> Any:
    if path.startswith("env."):
        return mask_env(path[4:], value)
    return mask_secrets(value)  # URL passwords, e.g. in an argument of `command`


def diff_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Field-level changes, dotted paths, sorted; secrets masked (`mask_env`, `mask_text`).
    A field absent on one side shows as None there (an `ADDED_LATER` one as its default)."""
    flat_old: dict[str, Any] = dict(ADDED_LATER)
    flat_new: dict[str, Any] = dict(ADDED_LATER)
    _flatten(old, "", flat_old)
    _flatten(new, "", flat_new)
    changes = []
    for path in sorted(set(flat_old) | set(flat_new)):
        a, b = flat_old.get(path), flat_new.get(path)
        if a != b:
            changes.append(FieldChange(path, _masked(path, a), _masked(path, b)))
    return tuple(changes)
