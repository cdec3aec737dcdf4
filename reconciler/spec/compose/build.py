"""Compose `build:` -> a stack `images:` entry built from the Dockerfile (the service's
key names it). `context` is already absolute (paths.py); `dockerfile` is relative to it,
as in Compose; `args` as a mapping or `K=V` list; `target`; `network: host` gives RUN the
network. What a Dockerfile build here has no equivalent of is reported as unsupported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.spec.compose.service import Service

HANDLED = ("context", "dockerfile", "args", "target", "network")


def _args(svc: Service, key: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        # A bare name takes its value from the environment in Compose: left out here, so a
        # value never lands in the stack file.
        return {str(k): str(v) for k, v in value.items() if v is not None}
    result = {}
    for item in value or []:
        name, sep, text = str(item).partition("=")
        if sep:
            result[name] = text
    return result


def build(svc: Service, key: str, value: Any) -> None:
    spec = {"context": value} if isinstance(value, str) else dict(value or {})
    context = str(spec.get("context") or ".")
    image: dict[str, Any] = {
        "dockerfile": str(Path(context) / str(spec.get("dockerfile") or "Dockerfile")),
        "context": context,
    }
    args = _args(svc, key, spec.get("args"))
    if args:
        image["args"] = args
    if spec.get("target"):
        image["target"] = str(spec["target"])
    network = spec.get("network")
    if network == "host":
        image["network"] = True
    elif network not in (None, "none", "default"):
        svc.unsupported(key, "network", why=f"`{network}`; RUN steps get none, or `host`")
    for extra in spec:
        if extra not in HANDLED:
            svc.unsupported(key, extra)
    svc.out.put(("images", svc.name), image, svc.at(key))
    svc.put("image", svc.name, key)
