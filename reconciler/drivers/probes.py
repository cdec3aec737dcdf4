"""Health probes in a container's network namespace (shared by the drivers).

- exec: the command runs in the container (runc exec), its output discarded; exit 0 is
  healthy.
- tcp / http: a throwaway thread enters the container's network namespace
  (setns(CLONE_NEWNET) on /proc/<pid>/ns/net; it affects only that thread) and connects to
  127.0.0.1:port, so the probe works whatever addresses the container has. http sends a
  GET and wants a 2xx/3xx status line.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable

from reconciler.model.desired import Healthcheck

CLONE_NEWNET = 0x40000000


def in_netns(pid: int, work: Callable[[], bool]) -> bool:
    """Run `work` in a new thread that first joins the network namespace of `pid`."""
    result: list[bool] = []

    def target() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return  # the container is gone: unhealthy
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                return
        finally:
            os.close(fd)
        result.append(work())

    thread = threading.Thread(target=target, name=f"probe-netns-{pid}", daemon=True)
    thread.start()
    thread.join()
    return bool(result and result[0])


def tcp_probe(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_probe(port: int, path: str, timeout: float, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            status = conn.makefile("rb").readline(256).split()
    except OSError:
        return False
    return len(status) >= 2 and status[1][:1] in (b"2", b"3")


def connect_probe(check: Healthcheck, host: str = "127.0.0.1") -> bool:
    """A tcp or http check: connect to `host` on the check's port."""
    port = check.port or 0
    if check.kind == "tcp":
        return tcp_probe(port, check.timeout, host)
    return http_probe(port, check.path, check.timeout, host)


def netns_probe(pid: int, check: Healthcheck) -> bool:
    """A tcp or http check to 127.0.0.1 inside the network namespace of `pid`, so it works
    whatever addresses the container has."""
    return in_netns(pid, lambda: connect_probe(check))
