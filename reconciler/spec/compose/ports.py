"""Compose `ports` (every short and long form) -> the stack's long port form, one mapping
per port: `[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTOCOL]` and
`{target, published, host_ip, protocol, mode, name, app_protocol}`."""

from __future__ import annotations

from typing import Any

from reconciler.spec.compose.service import Service

RANDOM = "publishes on a random host port in Compose; reconcile publishes fixed host ports " \
         "only (write HOST:CONTAINER)"


def ports(svc: Service, key: str, value: Any) -> None:
    found: list[dict[str, Any]] = []
    svc.put("ports", found, key)
    for i, entry in enumerate(value or []):
        parsed = _long(svc, i, entry) if isinstance(entry, dict) else _short(svc, i, str(entry))
        for mapping in parsed or []:
            svc.out.trace(("containers", svc.name, "ports", len(found)), svc.at(key, i))
            found.append(mapping)


def _short(svc: Service, i: int, text: str) -> list[dict[str, Any]] | None:
    body, _, protocol = text.partition("/")
    parts = body.rsplit(":", 2)
    container = parts[-1]
    host = parts[-2] if len(parts) > 1 else ""
    ip = parts[0] if len(parts) == 3 else ""
    return _expand(svc, i, text, ip.strip("[]"), host, container, protocol or "tcp")


def _long(svc: Service, i: int, entry: dict[str, Any]) -> list[dict[str, Any]] | None:
    for name in sorted(set(entry) - {"target", "published", "host_ip", "protocol", "mode"}):
        svc.unsupported("ports", i, name)
    if entry.get("mode", "ingress") not in ("ingress", "host"):
        svc.error(("ports", i, "mode"), "port `mode` must be ingress or host")
    published = entry.get("published")
    return _expand(svc, i, str(entry.get("target", "")), str(entry.get("host_ip") or ""),
                   "" if published is None else str(published), str(entry.get("target", "")),
                   str(entry.get("protocol") or "tcp"))


def _expand(svc: Service, i: int, text: str, ip: str, host: str, container: str,
            protocol: str) -> list[dict[str, Any]] | None:
    where = ("ports", i)
    if protocol not in ("tcp", "udp"):
        svc.error(where, f"port `{text}`: protocol `{protocol}` is not supported; expected "
                  "tcp or udp")
        return None
    containers, hosts = _range(container), _range(host)
    if not containers or (host and hosts is None):
        svc.error(where, f"port `{text}`: expected [IP:][HOST:]CONTAINER[/PROTOCOL] with "
                  "port numbers or ranges like 8000-8010")
        return None
    if not hosts:
        svc.warn(where, f"port `{text}` {RANDOM}; not published")
        return []
    if len(hosts) != len(containers):
        svc.error(where, f"port `{text}`: a host range that is not as long as the container "
                  "range picks one free port in Compose; reconcile publishes fixed ports "
                  "only (give ranges of the same length)")
        return None
    out = []
    for published, target in zip(hosts, containers, strict=True):
        mapping: dict[str, Any] = {"host": published, "container": target}
        if protocol == "udp":
            mapping["protocol"] = "udp"
        if ip:
            mapping["host_ip"] = ip
        out.append(mapping)
    return out


def _range(text: str) -> list[int] | None:
    """"80" -> [80], "80-82" -> [80, 81, 82], "" -> [], nonsense -> None."""
    if not text:
        return []
    low, sep, high = text.partition("-")
    if not low.isdigit() or (sep and not high.isdigit()):
        return None
    first, last = int(low), int(high) if sep else int(low)
    return list(range(first, last + 1)) if first <= last else None
