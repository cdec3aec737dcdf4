"""An image's own settings, honoured as Docker honours them: `User`, `WorkingDir`,
`StopSignal` and `Healthcheck` from the image config are defaults that the spec overrides
(`Env`, `Entrypoint` and `Cmd` are merged where the bundle is made). The image is
untrusted: its values are checked before they reach the runtime."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.model.desired import ContainerSpec, Healthcheck
from reconciler.model.errors import ImageError
from reconciler.model.records import replace

NANOSECONDS = 1e9
# Docker's defaults for a HEALTHCHECK whose durations or retries are 0 (unset).
DOCKER_INTERVAL, DOCKER_TIMEOUT, DOCKER_RETRIES = 30.0, 30.0, 3
_SIGNAL = re.compile(r"^(SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]{1,2}$")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(:[A-Za-z0-9_.][A-Za-z0-9_.-]*)?$")


def with_image_defaults(spec: ContainerSpec, config: Mapping[str, Any]) -> ContainerSpec:
    """`spec` with what it leaves unset taken from the image config."""
    where = spec.image.key
    changes: dict[str, Any] = {}
    if spec.user is None and config.get("User"):
        changes["user"] = _user(config["User"], where)
    if spec.workdir is None and config.get("WorkingDir"):
        changes["workdir"] = _workdir(config["WorkingDir"], where)
    if spec.stop_signal is None and config.get("StopSignal"):
        changes["stop_signal"] = _signal(config["StopSignal"], where)
    if spec.healthcheck is None and config.get("Healthcheck"):
        changes["healthcheck"] = image_healthcheck(config["Healthcheck"], where)
    return replace(spec, **changes) if changes else spec


def _user(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _USER.match(value):
        raise ImageError(where, "the image's User is not a user[:group] name or id")
    return value


def _workdir(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise ImageError(where, "the image's WorkingDir is not an absolute path")
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if ".." in parts or (parts and parts[0] == "proc"):
        raise ImageError(where, f"the image's WorkingDir {value!r} is under /proc or climbs "
                                "with '..'; refused")
    return "/" + "/".join(parts)


def _signal(value: Any, where: str) -> str:
    text = str(value).strip().upper() if isinstance(value, str | int) else ""
    if not _SIGNAL.match(text):
        raise ImageError(where, "the image's StopSignal is not a signal name or number")
    return text if text.isdigit() or text.startswith("SIG") else f"SIG{text}"


def image_healthcheck(value: Any, where: str) -> Healthcheck | None:
    """Docker's image Healthcheck ({Test, Interval, Timeout, Retries, StartPeriod}, durations
    in nanoseconds) as ours; None for `NONE` (the image disables any check it inherited)."""
    if not isinstance(value, Mapping):
        raise ImageError(where, "the image's Healthcheck is not an object")
    test = value.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise ImageError(where, "the image's Healthcheck.Test is not a list of strings")
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD" and len(test) > 1:
        argv = tuple(test[1:])
    elif test[0] == "CMD-SHELL" and len(test) == 2:
        argv = ("/bin/sh", "-c", test[1])
    else:
        raise ImageError(where, "the image's Healthcheck.Test is not [CMD, ...] or "
                                "[CMD-SHELL, command] or [NONE]")
    return Healthcheck(
        kind="exec", exec=argv,
        interval=_seconds(value, "Interval", where) or DOCKER_INTERVAL,
        timeout=_seconds(value, "Timeout", where) or DOCKER_TIMEOUT,
        retries=_count(value.get("Retries"), where) or DOCKER_RETRIES,
        start_period=_seconds(value, "StartPeriod", where),
    )  # fmt: skip


def _seconds(value: Mapping[str, Any], key: str, where: str) -> float:
    raw = value.get(key) or 0
    if not isinstance(raw, int) or raw < 0:
        raise ImageError(where, f"the image's Healthcheck.{key} is not a duration")
    return raw / NANOSECONDS


def _count(raw: Any, where: str) -> int:
    if raw is None:
        return 0
    if not isinstance(raw, int) or not 0 <= raw <= 1000:
        raise ImageError(where, "the image's Healthcheck.Retries is not a count")
    return raw
