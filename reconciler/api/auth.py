"""Who may talk to the API, and which requests a browser tab could have forged.

The unix socket is guarded by its file mode (0660, a group of the operator's choice).
Every TCP request needs `Authorization: Bearer <token>` (or, for a browser, the token in
the `reconcile_token` cookie), compared in constant time; a refusal says nothing else (no
stack names, no hint whether the path exists). A request that changes state (anything but
GET/HEAD) is refused when its `Host` is not one this server listens as, or when it
carries a foreign `Origin`: a page in a browser cannot make the user's browser post to the
loop (CSRF, DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.model.errors import ReconcileError

MIN_TOKEN = 16  # characters: a token shorter than this is refused at start
SAFE_METHODS = ("GET", "HEAD")
COOKIE = "reconcile_token"


def read_token(path: Path) -> str:
    """The token kept in `path` (surrounding whitespace stripped); refused when missing,
    short, or readable by others than the owner and group."""
    try:
        mode = path.stat().st_mode
        token = path.read_text().strip()
    except OSError as err:
        raise ReconcileError(f"{path}: cannot read the API token ({err.strerror})") from None
    if mode & 0o004:
        raise ReconcileError(f"{path}: the API token file is readable by everyone "
                             f"(chmod 600 {path})")
    if len(token) < MIN_TOKEN or any(c.isspace() for c in token):
        raise ReconcileError(f"{path}: expected a token of at least {MIN_TOKEN} characters "
                             "without spaces (e.g. `openssl rand -hex 32`)")
    return token


def bearer_ok(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def cookie_ok(header: str | None, token: str) -> bool:
    """The same token in a `reconcile_token` cookie: what a browser can send on a page
    load (the dashboard). A state change so authorized also needs a matching Origin."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
    return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_names(host: str, port: int) -> frozenset[str]:
    """The `Host` values a TCP listener on host:port answers to."""
    names = {host.strip("[]")}
    if is_loopback(host) or host in ("0.0.0.0", "::"):
        names |= {"localhost", "127.0.0.1", "::1"}
    if host in ("0.0.0.0", "::"):
        names.add(os.uname().nodename)
    out = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        out |= {f"{shown}:{port}".lower()}
    return frozenset(out)


def csrf_refusal(method: str, headers: Mapping[str, str],
                 hosts: frozenset[str] | None) -> str | None:
    """Why a state-changing request is refused, or None. `hosts` None: any Host (the unix
    socket, which no browser reaches directly)."""
    if method.upper() in SAFE_METHODS:
        return None
    host = headers.get("host", "").lower()
    if hosts is not None and host not in hosts:
        return "the Host header does not name this server"
    origin = headers.get("origin")
    if origin is None:
        return None  # not a browser (curl, the CLI)
    parts = urlsplit(origin)
    if origin == "null" or not parts.netloc:
        return "a request from an opaque origin"
    if hosts is not None:
        return None if parts.netloc.lower() in hosts else "a foreign Origin"
    return None if parts.netloc.lower() == host else "a foreign Origin"
