"""A small HTTP client for the OCI distribution API (stdlib http.client).

Why not urllib: it follows redirects across origins with our headers, and it hides the
connection, so keep-alive per thread is awkward. Here:
- one keep-alive connection per (thread, origin), so parallel layer downloads each get
  their own socket;
- https always, plain http only for hosts allowed insecure (--insecure-registry, or
  loopback like Docker): https is tried first there too, then http;
- redirects are followed (blob downloads often go to a storage host), at most 5; an
  `Authorization` header never crosses to another origin, and https never downgrades to
  http unless the target host is allowed insecure;
- a 401 answers its challenge once (token or Basic) and retries.
Error messages name the registry, path and status; never a header or credential.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.options import RegistryOptions

USER_AGENT = "reconcile/0.1"
TIMEOUT = 60.0
MAX_REDIRECTS = 5
Origin = tuple[str, str]  # (scheme, host[:port])


class RegistryError(Exception):
    """A registry answered badly or not at all; `pull.py` turns it into ImageError."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def api_host(domain: str) -> str:
    return auth.HUB_API if domain == "docker.io" else domain


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def insecure_allowed(host: str, insecure: tuple[str, ...]) -> bool:
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return is_loopback(host) or host in insecure or bare in insecure


@dataclass
class _Auth:
    challenge: auth.Challenge | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class RegistryClient:
    """Talks to one registry on behalf of one repository scope."""

    def __init__(self, domain: str, repository: str, options: RegistryOptions,
                 credentials: Mapping[str, auth.Credentials] | None = None,
                 tokens: auth.TokenCache | None = None) -> None:  # fmt: skip
        self.host = api_host(domain)
        self.repository = repository
        self.scope = f"repository:{repository}:pull"
        self.options = options
        self.credentials = (credentials or {}).get(domain)
        self.tokens = tokens or auth.TokenCache()
        self.scheme = ""
        self._auth = _Auth()
        self._local = threading.local()
        self._scheme_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> http.client.HTTPResponse:
        """GET a /v2/ path with auth and redirects; returns a 2xx response to read fully."""
        self._ensure_scheme()
        url = f"{self.scheme}://{self.host}{path}"
        response = self._authorized(url, dict(headers or {}))
        if response.status == 401:
            self._answer_challenge(response, force=True)
            response = self._authorized(url, dict(headers or {}))
        if not 200 <= response.status < 300:
            status = response.status
            detail = _error_detail(response)
            if status == 401:
                raise RegistryError(f"{self.host}: authentication required or refused for "
                                    f"{self.repository}{detail}", status)  # fmt: skip
            raise RegistryError(f"{self.host}{path}: HTTP {status}{detail}", status)
        return response

    def release(self, response: http.client.HTTPResponse, reusable: bool = True) -> None:
        """Give a response back: its connection is kept only when fully read."""
        if not reusable or not response.isclosed():
            response.close()
            self._drop(_origin_of(response))

    # -- scheme and ping ------------------------------------------------------------------

    def _ensure_scheme(self) -> None:
        with self._scheme_lock:
            if self.scheme:
                return
            schemes = ["https"]
            if insecure_allowed(self.host, self.options.insecure):
                schemes.append("http")
            failure = ""
            for scheme in schemes:
                try:
                    self._ping(scheme)
                    self.scheme = scheme
                    return
                except (OSError, http.client.HTTPException) as exc:
                    self._drop((scheme, self.host))
                    failure = f"{scheme}: {_os_message(exc)}"
            hint = "" if len(schemes) > 1 else (
                " (plain-http registries must be named with --insecure-registry)")
            raise RegistryError(f"cannot reach registry {self.host} ({failure}){hint}")

    def _ping(self, scheme: str) -> None:
        """GET /v2/: learns whether and how the registry wants authentication."""
        response = self._send((scheme, self.host), "/v2/", {})
        body_challenge = response.getheader("WWW-Authenticate", "")
        response.read()
        if response.status == 401 and body_challenge:
            self._auth.challenge = auth.parse_challenge(body_challenge)
        elif response.status not in (200, 401):
            raise http.client.HTTPException(f"/v2/ answered HTTP {response.status}")

    # -- auth -----------------------------------------------------------------------------

    def _authorized(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        header = self._auth_header()
        if header:
            headers["Authorization"] = header
        return self._follow(url, headers)

    def _auth_header(self) -> str | None:
        challenge = self._auth.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        if challenge.scheme == "bearer":
            token = self.tokens.get(self.host, self.scope) or self._fetch_token(challenge)
            return f"Bearer {token}" if token else None
        return None

    def _answer_challenge(self, response: http.client.HTTPResponse, force: bool) -> None:
        header = response.getheader("WWW-Authenticate", "")
        response.read()
        self.release(response)
        challenge = auth.parse_challenge(header) if header else None
        if challenge is None:
            raise RegistryError(f"{self.host}: HTTP 401 without an authentication challenge", 401)
        self._auth.challenge = challenge
        if force:
            self.tokens.drop(self.host, self.scope)

    def _fetch_token(self, challenge: auth.Challenge) -> str | None:
        with self._auth.lock:
            cached = self.tokens.get(self.host, self.scope)
            if cached:
                return cached
            realm = challenge.params.get("realm", "")
            parts = urlsplit(realm)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise RegistryError(f"{self.host}: token realm is not an http(s) URL")
            if parts.scheme == "http" and not insecure_allowed(parts.netloc, self.options.insecure):
                raise RegistryError(f"{self.host}: refusing plain-http token realm {parts.netloc}")
            query = {"scope": self.scope}
            if challenge.params.get("service"):
                query["service"] = challenge.params["service"]
            headers = {}
            if self.credentials and auth.realm_may_receive_credentials(
                realm, self.scheme, self.host
            ):
                headers["Authorization"] = self.credentials.basic_header()
            separator = "&" if parts.query else "?"
            response = self._follow(f"{realm}{separator}{urlencode(query)}", headers)
            body = response.read(1 << 20)
            self.release(response)
            if response.status != 200:
                raise RegistryError(f"{self.host}: token request to {parts.netloc} answered "
                                    f"HTTP {response.status}", response.status)  # fmt: skip
            try:
                token, lifetime = auth.token_from_response(body)
            except ValueError as exc:
                raise RegistryError(f"{self.host}: bad token response: {exc}") from None
            self.tokens.put(self.host, self.scope, token, lifetime)
            return token

    # -- transport ------------------------------------------------------------------------

    def _follow(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        """Send, following redirects; credentials stay with their origin."""
        first = _split(url)
        for _ in range(MAX_REDIRECTS + 1):
            origin, path = _split(url)
            if origin != first[0]:
                headers.pop("Authorization", None)
            response = self._send(origin, path, headers)
            if response.status not in (301, 302, 303, 307, 308):
                return response
            location = response.getheader("Location", "")
            response.read()
            self.release(response)
            if not location:
                raise RegistryError(f"{origin[1]}{path}: redirect without a Location")
            url = urljoin(url, location)
            target, _ = _split(url)
            if target[0] not in ("http", "https"):
                raise RegistryError(f"{origin[1]}: redirect to an unsupported scheme")
            if target[0] == "http" and origin[0] == "https" and not insecure_allowed(
                target[1], self.options.insecure
            ):
                raise RegistryError(f"{origin[1]}: refusing redirect from https to plain http")
        raise RegistryError(f"{self.host}: more than {MAX_REDIRECTS} redirects")

    def _send(self, origin: Origin, path: str, headers: Mapping[str, str]
              ) -> http.client.HTTPResponse:  # fmt: skip
        all_headers = {"User-Agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            conn, fresh = self._connection(origin)
            try:
                conn.request("GET", path, headers=all_headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(origin)
                if fresh or attempt == 2:  # a kept-alive socket may have been closed by the peer
                    raise
                continue
            response.origin = origin  # type: ignore[attr-defined]
            return response
        raise AssertionError("unreachable")

    def _connection(self, origin: Origin) -> tuple[http.client.HTTPConnection, bool]:
        pool: dict[Origin, http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(origin)
        if conn is not None:
            return conn, False
        scheme, host = origin
        if scheme == "https":
            if insecure_allowed(host, self.options.insecure):
                # Docker's --insecure-registry also accepts any certificate there (and
                # loading the CA bundle would cost ~0.1 s for nothing).
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(host, timeout=TIMEOUT, context=context)
        else:
            conn = http.client.HTTPConnection(host, timeout=TIMEOUT)
        pool[origin] = conn
        return conn, True

    def _drop(self, origin: Origin) -> None:
        pool: dict[Origin, http.client.HTTPConnection] = self._local.__dict__.get("pool", {})
        conn = pool.pop(origin, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for origin in list(self._local.__dict__.get("pool", {})):
            self._drop(origin)


def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return (parts.scheme, parts.netloc), path


def _origin_of(response: http.client.HTTPResponse) -> Origin:
    origin: Origin = getattr(response, "origin", ("", ""))
    return origin


def _error_detail(response: http.client.HTTPResponse) -> str:
    """The registry's own error code (JSON `errors[].code`), never the raw body."""
    import json

    try:
        data = json.loads(response.read(64 << 10))
        codes = [str(e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError, OSError, http.client.HTTPException):
        codes = []
    return f" ({', '.join(codes)})" if codes else ""


def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ if not str(exc) else str(exc).split("\n", 1)[0]
