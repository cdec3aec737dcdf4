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
- a 401 answers its challenge once (token or Basic) and retries;
- every answer comes back as a `transfer.Body`: bodies other than layers are read with a
  cap, and a `Watchdog` enforces the pull's deadline and minimum rate (transfer.py).
Error messages name the registry, path and status; never a header or credential.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlencode, urljoin, urlsplit

from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.drivers.native.registry.transfer import (
    MAX_SMALL,
    Body,
    Origin,
    TooLarge,
    Watchdog,
    read_capped,
)
from reconciler.drivers.native.registry.transfer import RegistryError as RegistryError
from reconciler.model.records import field, record

USER_AGENT = "reconcile/0.1"
MAX_REDIRECTS = 5


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


@record
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
        self.watchdog = Watchdog(self.host, repository, options)

    # -- public ---------------------------------------------------------------------------

    def get(self, path: str, headers: Mapping[str, str] | None = None, what: str = "") -> Body:
        """GET a /v2/ path with auth and redirects; returns a 2xx response to read fully.
        `what` names the object in errors ("layer sha256:..."); the path by default."""
        self._ensure_scheme()
        url = f"{self.scheme}://{self.host}{path}"
        what = what or path
        try:
            response = self._authorized(url, dict(headers or {}), what)
            if response.status == 401:
                self._answer_challenge(response, force=True)
                response = self._authorized(url, dict(headers or {}), what)
        except TimeoutError:
            raise RegistryError(f"registry {self.host} did not answer within "
                                f"{self.options.stall_timeout:g} s for {what}; stalled") from None
        if not 200 <= response.status < 300:
            status = response.status
            detail = self._error_detail(response)
            if status == 401:
                raise RegistryError(f"{self.host}: authentication required or refused for "
                                    f"{self.repository}{detail}", status)  # fmt: skip
            raise RegistryError(f"{self.host}{path}: HTTP {status}{detail}", status)
        return response

    def read_body(self, body: Body, cap: int, what: str = "") -> bytes:
        """A whole non-layer body, at most `cap` bytes; the connection is kept only when
        the body was read to its end."""
        try:
            return read_capped(body, cap, what)
        finally:
            self.release(body)

    def release(self, response: Body, reusable: bool = True) -> None:
        """Give a response back: its connection is kept only when fully read."""
        response.finish()
        if not reusable or not response.complete():
            response.response.close()
            self._drop(response.origin)

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
        response = self._send((scheme, self.host), "/v2/", {}, "the /v2/ answer")
        body_challenge = response.getheader("WWW-Authenticate", "") or ""
        self.read_body(response, MAX_SMALL)
        if response.status == 401 and body_challenge:
            self._auth.challenge = auth.parse_challenge(body_challenge)
        elif response.status not in (200, 401):
            raise http.client.HTTPException(f"/v2/ answered HTTP {response.status}")

    # -- auth -----------------------------------------------------------------------------

    def _authorized(self, url: str, headers: dict[str, str], what: str) -> Body:
        header = self._auth_header()
        if header:
            headers["Authorization"] = header
        return self._follow(url, headers, what)

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

    def _answer_challenge(self, response: Body, force: bool) -> None:
        header = response.getheader("WWW-Authenticate", "") or ""
        self.read_body(response, MAX_SMALL, "an authentication challenge")
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
            # One `scope` parameter per scope (a push token also reads mount sources).
            query = [("scope", scope) for scope in self.scope.split(" ")]
            if challenge.params.get("service"):
                query.append(("service", challenge.params["service"]))
            headers = {}
            if self.credentials and auth.realm_may_receive_credentials(
                realm, self.scheme, self.host
            ):
                headers["Authorization"] = self.credentials.basic_header()
            separator = "&" if parts.query else "?"
            url = f"{realm}{separator}{urlencode(query)}"
            response = self._follow(url, headers, f"a token from {parts.netloc}")
            body = self.read_body(response, MAX_SMALL)
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

    def _follow(self, url: str, headers: dict[str, str], what: str) -> Body:
        """Send, following redirects; credentials stay with their origin."""
        first = _split(url)
        for _ in range(MAX_REDIRECTS + 1):
            origin, path = _split(url)
            if origin != first[0]:
                headers.pop("Authorization", None)
            response = self._send(origin, path, headers, what)
            if response.status not in (301, 302, 303, 307, 308):
                return response
            location = response.getheader("Location", "") or ""
            self.read_body(response, MAX_SMALL, f"a redirect for {what}")
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

    def _send(self, origin: Origin, path: str, headers: Mapping[str, str], what: str) -> Body:
        all_headers = {"User-Agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            conn, fresh = self._connection(origin)
            transfer = self.watchdog.begin(origin[1], what, conn)
            try:
                conn.request("GET", path, headers=all_headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.watchdog.end(transfer)
                self._drop(origin)
                if transfer.reason:
                    raise RegistryError(transfer.reason) from None
                if fresh or attempt == 2:  # a kept-alive socket may have been closed by the peer
                    raise
                continue
            except BaseException:
                self.watchdog.end(transfer)
                self._drop(origin)
                if transfer.reason:
                    raise RegistryError(transfer.reason) from None
                raise
            return Body(response, origin, transfer, self.watchdog, self.options.stall_timeout)
        raise AssertionError("unreachable")

    def _connection(self, origin: Origin) -> tuple[http.client.HTTPConnection, bool]:
        pool: dict[Origin, http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(origin)
        if conn is not None:
            return conn, False
        scheme, host = origin
        timeout = self.options.stall_timeout  # a socket receiving nothing this long fails
        if scheme == "https":
            if insecure_allowed(host, self.options.insecure):
                # Docker's --insecure-registry also accepts any certificate there (and
                # loading the CA bundle would cost ~0.1 s for nothing).
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(host, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, timeout=timeout)
        pool[origin] = conn
        return conn, True

    def _drop(self, origin: Origin) -> None:
        pool: dict[Origin, http.client.HTTPConnection] = self._local.__dict__.get("pool", {})
        conn = pool.pop(origin, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close this thread's connections and stop the watchdog."""
        self.watchdog.close()
        for origin in list(self._local.__dict__.get("pool", {})):
            self._drop(origin)

    def _error_detail(self, response: Body) -> str:
        """The registry's own error code (JSON `errors[].code`), never the raw body."""
        import json

        try:
            data = json.loads(self.read_body(response, MAX_SMALL, "an error answer"))
            codes = [str(e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)]
        except TooLarge as exc:  # the status is the news; the oversized body is a detail
            return f" ({exc})"
        except (ValueError, AttributeError):
            codes = []
        return f" ({', '.join(codes)})" if codes else ""


def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return (parts.scheme, parts.netloc), path




def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ if not str(exc) else str(exc).split("\n", 1)[0]
