"""/etc/hosts of a stack's members: every member's address and names.

A container's /etc/hosts is a bind mount of `containers/<name>/etc/hosts`; a bind mount
pins the inode, so when members come and go the file is rewritten in place (truncate and
write), never replaced by rename.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from reconciler.drivers import etcfiles
from reconciler.drivers.native.network.ipam import StackNetwork


def render(network: StackNetwork, name: str, hostname: str, members: list[str]) -> str:
    """The hosts file of `name`: its own line (hostname, name, key), then the others."""
    own = " ".join(dict.fromkeys([hostname, *network.names.get(name, [name])]))
    extra = [
        (network.leases[m], " ".join(network.names.get(m, [m])))
        for m in sorted(members)
        if m != name and m in network.leases
    ]
    return etcfiles.hosts_file(own, network.leases.get(name), extra)


def rewrite_in_place(path: Path, text: str) -> None:
    """Same inode: the running container sees the new content through its bind mount."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
