"""Registry credentials and the token dance (WWW-Authenticate challenges).

Credentials come from a Docker `config.json` (`auths.<host>.auth` = base64 "user:password",
or `username`/`password`). They are kept in memory only and sent:
- as Basic auth to the registry's own origin when it asks for Basic;
- to a Bearer token realm only when the realm is on the registry's own host, over the
  registry's scheme or https (or Docker Hub's known realm for docker.io). Any other realm
  gets an anonymous token request: a hostile registry cannot redirect our password.

Nothing here ever formats a credential or a token into a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.model.records import field, record

# Docker Hub: the registry API is registry-1.docker.io, credentials are filed under the
# legacy index URL, and tokens come from auth.docker.io.
HUB_API = "registry-1.docker.io"
HUB_CONFIG_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
HUB_REALM_HOST = "auth.docker.io"
TOKEN_SLACK = 5.0  # refresh a token this many seconds before it expires
DEFAULT_TOKEN_LIFETIME = 60.0  # the distribution spec's default when expires_in is absent

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@record(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@record(frozen=True)
class Challenge:
    scheme: str  # "bearer" | "basic"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://x/token",service="x",scope="repository:a:pull"` -> Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(rest)}  # fmt: skip
    return Challenge(scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()})


def default_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(base) / "config.json"


def load_credentials(path: Path | None) -> dict[str, Credentials]:
    """host -> credentials from a Docker config.json; a missing or broken file gives {}.
    credsStore/credHelpers (external programs) are not consulted."""
    try:
        data = json.loads((path or default_config_path()).read_bytes())
    except (OSError, ValueError):
        return {}
    auths = data.get("auths") if isinstance(data, dict) else None
    found: dict[str, Credentials] = {}
    for key, entry in (auths or {}).items():
        creds = _entry_credentials(entry)
        if creds is not None:
            found[_config_host(str(key))] = creds
    return found


def _entry_credentials(entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return Credentials(user, password) if sep else None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"])
    return None


def _config_host(key: str) -> str:
    """'https://index.docker.io/v1/' -> 'docker.io'; 'http://h:5000' -> 'h:5000'."""
    if key in HUB_CONFIG_KEYS:
        return "docker.io"
    host = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return "docker.io" if host in HUB_CONFIG_KEYS else host


def realm_may_receive_credentials(realm: str, registry_scheme: str, registry_host: str) -> bool:
    """Send a password to a token realm only on the registry's own host (or Hub's realm)."""
    parts = urlsplit(realm)
    if parts.scheme not in ("https", registry_scheme):
        return False
    realm_host = (parts.hostname or "").lower()
    own_host = registry_host.rsplit(":", 1)[0].strip("[]").lower()
    if registry_host == HUB_API:
        return parts.scheme == "https" and realm_host == HUB_REALM_HOST
    return realm_host == own_host


@record
class _Token:
    value: str = field(repr=False)
    expires: float


class TokenCache:
    """Bearer tokens per (registry, scope), refreshed shortly before they expire."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def get(self, registry: str, scope: str) -> str | None:
        with self._lock:
            token = self._tokens.get((registry, scope))
        if token is None or token.expires - TOKEN_SLACK <= self._now():
            return None
        return token.value

    def put(self, registry: str, scope: str, value: str, lifetime: float | None) -> None:
        life = lifetime if lifetime and lifetime > 0 else DEFAULT_TOKEN_LIFETIME
        with self._lock:
            self._tokens[(registry, scope)] = _Token(value, self._now() + life)

    def drop(self, registry: str, scope: str) -> None:
        with self._lock:
            self._tokens.pop((registry, scope), None)


def token_from_response(body: bytes) -> tuple[str, float | None]:
    """(token, expires_in) from a token endpoint's JSON answer; ValueError when absent."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("token response is not a JSON object")
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("token response has no token")
    expires = data.get("expires_in")
    return token, float(expires) if isinstance(expires, int | float) else None
