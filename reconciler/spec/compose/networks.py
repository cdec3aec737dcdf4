"""Compose networks -> the stack's one private network.

A stack has one network on which every container reaches every other by its service
name. That expresses a Compose project exactly when every two services share at least one
Compose network; when two share none, Compose keeps them apart and reconcile could not, so
it is an error (split the project, or put the two on a common network). A subnet of the
networks used becomes `networks.default.subnet` (one at most). `network_mode: host|none`
maps to `network:`; `service:` / `container:` modes cannot be expressed.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from reconciler.spec.compose.located import StackOut
from reconciler.spec.compose.service import Service
from reconciler.spec.loader import JsonPath

_TOP_OK = {"driver", "ipam", "name"}


def network_mode(svc: Service, key: str, value: Any) -> None:
    if value in ("host", "none"):
        svc.put("network", value, key)
    elif value != "bridge":
        svc.error((key,), f"`network_mode: {value}` cannot be expressed: reconcile gives a "
                  "container its stack's network, the host's (`host`) or none (`none`)")


def networks(svc: Service, key: str, value: Any) -> None:
    for name, options in (value.items() if isinstance(value, dict) else []):
        for option in sorted(options or {}):
            if option in ("ipv4_address", "ipv6_address", "mac_address", "driver_opts",
                          "link_local_ips", "priority", "gw_priority", "interface_name"):
                svc.error((key, name, option), f"network option `{option}` cannot be "
                          "expressed: reconcile assigns addresses itself", at_key=True)
            elif option != "aliases" or options[option]:
                svc.unsupported(key, name, option)


def service_networks(spec: dict[str, Any]) -> set[str]:
    if spec.get("network_mode") not in (None, "bridge"):
        return set()
    listed = spec.get("networks")
    return set(listed) if listed is not None else {"default"}


def map_networks(out: StackOut) -> None:
    data = out.project.data
    services: dict[str, Any] = data.get("services") or {}
    on = {name: service_networks(spec or {}) for name, spec in services.items()}
    networked = [networks for networks in on.values() if networks]
    shared = set.intersection(*networked) if networked else set()
    # every pair shares a network when one network is everyone's (nearly always: only
    # `default`); else the pairs are searched for the first that shares none
    for a, b in [] if shared else combinations(sorted(n for n in on if on[n]), 2):
        if not on[a] & on[b]:
            out.error(("services", b, "networks") if "networks" in services[b]
                      else ("services", b),
                      f"services `{a}` and `{b}` share no Compose network, but reconcile "
                      "puts a stack's containers on one network where they would reach each "
                      "other; put them on a common network or split the project", at_key=True)
            break
    used = set().union(*on.values()) if on else set()
    subnets: list[tuple[str, str, JsonPath]] = []
    for name, spec in (data.get("networks") or {}).items():
        if name in used:
            subnets.extend(_top_network(out, name, spec or {}))
    if len(subnets) > 1:
        out.error(subnets[1][2], "a stack has one network: at most one subnet can be given "
                  "across the networks its services use")
    elif subnets:
        _, subnet, came_from = subnets[0]
        out.put(("networks", "default", "subnet"), subnet, came_from)


def _top_network(out: StackOut, name: str,
                 spec: dict[str, Any]) -> list[tuple[str, str, JsonPath]]:
    at = ("networks", name)
    for option in ("external", "internal"):
        if spec.get(option):
            out.error((*at, option), f"a network with `{option}: true` cannot be expressed: "
                      "reconcile creates and owns its stack's one network", at_key=True)
    for option in sorted(set(spec) - _TOP_OK - {"external", "internal"}):
        out.unsupported((*at, option))
    if spec.get("driver", "bridge") != "bridge":
        out.unsupported((*at, "driver"), why="reconcile's network is a bridge")
    subnets: list[tuple[str, str, JsonPath]] = []
    for i, config in enumerate((spec.get("ipam") or {}).get("config") or []):
        if "subnet" in (config or {}):
            subnets.append((name, str(config["subnet"]), (*at, "ipam", "config", i, "subnet")))
        for option in sorted(set(config or {}) - {"subnet"}):
            out.unsupported((*at, "ipam", "config", i, option))
    for option in sorted(set(spec.get("ipam") or {}) - {"config"}):
        if not (option == "driver" and spec["ipam"][option] == "default"):
            out.unsupported((*at, "ipam", option))
    return subnets
