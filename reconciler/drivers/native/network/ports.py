"""Is a host port free? Tried by binding it, before anything is made.

Published ports are DNAT rules, not sockets, so a port taken by another process would
otherwise go unnoticed (its local clients would silently reach the container instead).
When a bind fails, the owning process is looked up through /proc to name it.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from reconciler.model.desired import PortMapping


def port_in_use(port: PortMapping) -> bool:
    kind = socket.SOCK_STREAM if port.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if port.protocol == "tcp":
            # A listener clashes; a connection lingering in TIME_WAIT does not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((port.host_ip or "0.0.0.0", port.host_port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            if e.errno == errno.EADDRNOTAVAIL:
                return False  # not an address of this host: validation's business
            raise
    return False


def _socket_inodes(port: PortMapping) -> set[str]:
    table = "/proc/net/tcp" if port.protocol == "tcp" else "/proc/net/udp"
    inodes: set[str] = set()
    try:
        lines = Path(table).read_text().splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port.host_port:
            inodes.add(fields[9])
    return inodes


def holder(port: PortMapping) -> str:
    """`pid 123 (nginx)` of a process holding the port, or "another process"."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in wanted for fd in fds):
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                return f"pid {pid} ({comm})"
        except OSError:
            continue
    return "another process"
