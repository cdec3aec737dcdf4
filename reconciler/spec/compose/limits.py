"""Compose resource keys -> the stack's `limits`, `replicas`, `restart` and `update`:
`mem_limit`, `memswap_limit`, `cpus`, `cpu_shares`, `cpuset`, `pids_limit`, `ulimits`,
`scale` and `deploy` (resources, replicas, restart_policy, update_config.order).

Like Compose, a value given both at the service's top level and under `deploy` must agree.
"""

from __future__ import annotations

import contextlib
from typing import Any

from reconciler.spec.compose.service import Service

# service key -> stack `limits` field
TOP = {"mem_limit": "memory", "memswap_limit": "memory_swap", "cpus": "cpus",
       "cpu_shares": "cpu_shares", "cpuset": "cpuset", "pids_limit": "pids"}
DEPLOY_LIMITS = {"memory": "memory", "cpus": "cpus", "pids": "pids"}
RESTART = {"none": "no", "on-failure": "on-failure", "any": "always"}


def _limit(svc: Service, field: str, value: Any, came_from: tuple[str | int, ...]) -> None:
    if field == "cpus" and isinstance(value, str):
        with contextlib.suppress(ValueError):  # else the schema check names it
            value = float(value)
    if field == "pids" and isinstance(value, int) and value <= 0:
        return  # -1 and 0 mean unlimited in Compose
    limits = svc.container().get("limits") or {}
    if field in limits and limits[field] != value:
        svc.error(came_from, f"`{came_from[-1]}` and another key set `{field}` to different "
                  "values; keep one")
        return
    svc.put(("limits", field), value, *came_from)
    svc.out.trace(("containers", svc.name, "limits"), svc.at(*came_from))


def top(svc: Service, key: str, value: Any) -> None:
    _limit(svc, TOP[key], value, (key,))


def ulimits(svc: Service, key: str, value: Any) -> None:
    svc.put(("limits", "ulimits"), value, key, deep=True)
    svc.out.trace(("containers", svc.name, "limits"), svc.at(key))


def scale(svc: Service, key: str, value: Any) -> None:
    svc.put("replicas", value, key)


def deploy(svc: Service, key: str, value: Any) -> None:
    for name, item in (value or {}).items():
        if name == "replicas":
            svc.put("replicas", item, key, name)
        elif name == "resources":
            _resources(svc, item or {})
        elif name == "restart_policy":
            _restart_policy(svc, item or {})
        elif name == "update_config":
            _update(svc, item or {})
        elif not (name == "mode" and item == "replicated"):
            svc.unsupported(key, name, why="swarm settings have no meaning on one host"
                            if name in ("placement", "endpoint_mode", "rollback_config",
                                        "mode") else "")


def _resources(svc: Service, value: dict[str, Any]) -> None:
    for name, item in value.items():
        if name != "limits":
            svc.unsupported("deploy", "resources", name,
                            why="reconcile enforces limits, it does not reserve")
            continue
        for limit, amount in (item or {}).items():
            if limit in DEPLOY_LIMITS:
                _limit(svc, DEPLOY_LIMITS[limit], amount, ("deploy", "resources", name, limit))
            else:
                svc.unsupported("deploy", "resources", name, limit)


def _restart_policy(svc: Service, value: dict[str, Any]) -> None:
    if "restart" in svc.spec:  # Compose: `restart` wins over deploy.restart_policy
        svc.unsupported("deploy", "restart_policy", why="`restart` is set and wins")
        return
    condition = RESTART.get(str(value.get("condition", "any")))
    if condition is None:
        svc.error(("deploy", "restart_policy", "condition"),
                  "`condition` must be none, on-failure or any")
        return
    restart = condition
    if condition == "on-failure" and "max_attempts" in value:
        restart = f"on-failure:{value['max_attempts']}"
    svc.put("restart", restart, "deploy", "restart_policy")
    for name in sorted(set(value) - {"condition", "max_attempts"}):
        svc.unsupported("deploy", "restart_policy", name,
                        why="reconcile restarts with its own back-off")


def _update(svc: Service, value: dict[str, Any]) -> None:
    for name, item in value.items():
        if name == "order" and item in ("stop-first", "start-first"):
            svc.put(("update", "order"), item, "deploy", "update_config", name)
        else:
            svc.unsupported("deploy", "update_config", name)


HANDLERS = {**{key: top for key in TOP}, "ulimits": ulimits, "scale": scale,
            "deploy": deploy}
