"""Parsers for the spec's short forms: sizes, durations, ports, mounts, restart, signals.

Every parser raises `ValueError` with a message fit for the user; the semantic checks turn
it into a located Problem and `normalize` relies on the input having passed those checks.
"""

from __future__ import annotations

import ipaddress
import re
import signal
from functools import lru_cache

from reconciler.model.desired import PortMapping, Protocol_
from reconciler.model.records import record

# Docker's RAMInBytes: every unit is 1024-based, "i" and "b" are optional ("1g" == "1GiB").
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)(b?)$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

SIZE_HINT = "a size like 512m, 256Mi, 1g or a number of bytes"
DURATION_HINT = "a duration like 100ms, 10s, 1m30s or a number of seconds"
PORT_HINT = '"[HOST_IP:]HOST:CONTAINER[/PROTOCOL]", e.g. "8080:80" or "127.0.0.1:53:53/udp"'


@lru_cache(maxsize=4096, typed=True)  # pure; a stack repeats its values
def parse_size(value: int | float | str) -> int:
    """Bytes from an int or a Docker-style size string."""
    if isinstance(value, bool):
        raise ValueError(f"expected {SIZE_HINT}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"expected {SIZE_HINT}, got negative {value}")
        return int(value)
    match = _SIZE.match(value.strip())
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f'expected {SIZE_HINT}, got "{value}"')
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * _SIZE_UNITS[unit])


def parse_swap(value: int | float | str) -> int:
    """`memory_swap`: a size, or -1 for unlimited swap (Docker's `--memory-swap -1`)."""
    if value == -1 or (isinstance(value, str) and value.strip() == "-1"):
        return -1
    return parse_size(value)


@lru_cache(maxsize=4096, typed=True)  # pure; a stack repeats its values
def parse_duration(value: int | float | str) -> float:
    """Seconds from a number or a Go-style duration string ("1m30s")."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HINT}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"expected {DURATION_HINT}, got negative {value}")
        return float(value)
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f'expected {DURATION_HINT}, got "{value}"')
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def _port_range(text: str, what: str) -> list[int]:
    first, sep, last = text.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise ValueError(f'invalid {what} port "{text}"')
    low, high = int(first), int(last) if sep else int(first)
    if not 1 <= low <= high <= 65535:
        raise ValueError(f'{what} port "{text}" is outside 1-65535 or an empty range')
    return list(range(low, high + 1))


def _split_host_ip(text: str) -> tuple[str, str]:
    """Split "IP:HOST:CONTAINER" into ("IP", "HOST:CONTAINER"); IPv6 in brackets."""
    if text.startswith("["):
        ip, sep, rest = text[1:].partition("]:")
        if not sep:
            raise ValueError(f'invalid IPv6 address in "{text}"')
        return ip, rest
    if text.count(":") == 2:
        ip, _, rest = text.partition(":")
        return ip, rest
    return "", text


def _check_ip(ip: str, text: str) -> None:
    if ip.isdigit():  # "80:80:80": three ports, not an address
        raise ValueError(f'invalid port "{text}"; expected {PORT_HINT}')
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(
            f'invalid port "{text}": "{ip}" is not an IP address; expected {PORT_HINT}'
        ) from None


def parse_port(text: str) -> list[PortMapping]:
    """Compose's short port syntax; ranges expand to one mapping per port."""
    body, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp"):
        raise ValueError(f'unknown protocol "{protocol}" in port "{text}"; expected tcp or udp')
    host_ip, rest = _split_host_ip(body)
    if host_ip:
        _check_ip(host_ip, text)
    host, sep, container = rest.partition(":")
    if not sep or ":" in container:
        raise ValueError(f'invalid port "{text}"; expected {PORT_HINT}')
    return expand_ports(host, container, protocol, host_ip, text)


def expand_ports(
    host: str, container: str, protocol: str, host_ip: str, text: str
) -> list[PortMapping]:
    if host_ip:
        _check_ip(host_ip, text)
    hosts = _port_range(host, "host")
    containers = _port_range(container, "container")
    if len(hosts) != len(containers):
        raise ValueError(f'port ranges in "{text}" have different lengths')
    ip = "" if host_ip in ("", "0.0.0.0") else host_ip
    proto: Protocol_ = "udp" if protocol == "udp" else "tcp"
    return [PortMapping(h, c, proto, ip) for h, c in zip(hosts, containers, strict=True)]


@record(frozen=True)
class ShortVolume:
    """A volume written in the short `source:target[:ro]` form, split."""
    source: str
    target: str
    read_only: bool
    is_bind: bool


_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def parse_volume(text: str) -> ShortVolume:
    """ "SRC:DST[:ro|rw]"; a SRC starting with '.', '/' or '~' is a bind mount, else a
    named volume."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f'invalid volume "{text}"; expected "SOURCE:TARGET[:ro|rw]"')
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise ValueError(f'invalid volume mode "{mode}" in "{text}"; expected ro or rw')
    source, target = parts[0], parts[1]
    if not target.startswith("/"):
        raise ValueError(f'volume target "{target}" must be an absolute path')
    is_bind = source[0] in "./~"
    if not is_bind and not _VOLUME_NAME.match(source):
        raise ValueError(f'invalid volume name "{source}"')
    return ShortVolume(source, target, mode == "ro", is_bind)


RESTART_NAMES = ("no", "always", "unless-stopped", "on-failure")


def parse_restart(text: str) -> tuple[str, int | None]:
    """ "no" | "always" | "unless-stopped" | "on-failure[:N]" -> (policy, max_retries)."""
    name, sep, count = text.partition(":")
    if name not in RESTART_NAMES or (sep and name != "on-failure"):
        raise ValueError(
            f'invalid restart policy "{text}"; expected no, always, unless-stopped '
            "or on-failure[:N]"
        )
    if not sep:
        return name, None
    if not count.isdigit():
        raise ValueError(f'invalid retry count "{count}" in restart "{text}"')
    return name, int(count)


@lru_cache(maxsize=4096, typed=True)  # pure; checks and normalize both parse
def parse_signal(value: str | int) -> str:
    """A signal name ("SIGTERM", "TERM", "SIGRTMIN+3") or number -> canonical name."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value).name
        except ValueError:
            raise ValueError(f"unknown signal number {value}") from None
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    realtime = re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name)
    if realtime:
        return name
    if name in signal.Signals.__members__:
        return name
    raise ValueError(f'unknown signal "{value}"; expected a name like SIGTERM or SIGINT')


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def is_dns_label(text: str) -> bool:
    return bool(_DNS_LABEL.fullmatch(text))  # `$` would also match before a final newline
