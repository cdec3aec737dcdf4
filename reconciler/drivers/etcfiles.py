"""Contents of the /etc/hosts, /etc/hostname and /etc/resolv.conf a container sees.

Pure but for read_host_resolv(): the driver reads the host's resolv.conf with it, passes
its text in and writes the results where its containers bind them from (the native driver
next to the bundle, bundle.oci_config; the docker driver in its loopback folders).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from reconciler.model.desired import NetworkMode

HOST_RESOLV = "/etc/resolv.conf"

_IPV6_LINES = (
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
)


def hosts_file(
    hostname: str, address: str | None = None, extra: Sequence[tuple[str, str]] = ()
) -> str:
    """localhost entries, the container's own name (on its address, or on loopback when it
    has none) and any extra (address, names) pairs."""
    lines = ["127.0.0.1\tlocalhost", *_IPV6_LINES]
    lines.append(f"{address or '127.0.1.1'}\t{hostname}")
    lines.extend(f"{ip}\t{names}" for ip, names in extra)
    return "\n".join(lines) + "\n"


def hostname_file(hostname: str) -> str:
    return hostname + "\n"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf(host_resolv: str, dns: Sequence[str] = (), network: NetworkMode = "private") -> str:
    """The spec's `dns` servers replace the host's. Otherwise the host's file is reused;
    for a private network its loopback servers (systemd-resolved, dnsmasq on 127.x) are
    dropped, as Docker does, because the container's own loopback has no resolver."""
    kept: list[str] = []
    for line in host_resolv.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        is_server = words[0] == "nameserver"
        if is_server and (dns or (network != "host" and _is_loopback(words[-1]))):
            continue
        kept.append(line.strip())
    servers = [f"nameserver {server}" for server in dns]
    body = servers + kept
    if not any(line.startswith("nameserver") for line in body):
        body.insert(0, "# no usable nameserver: set dns: in the stack to resolve names")
    return "\n".join(body) + "\n"


def read_host_resolv() -> str:
    """The host's resolv.conf ("" when it has none): the base of a container's."""
    try:
        with open(HOST_RESOLV, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""
