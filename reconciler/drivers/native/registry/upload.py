"""Requests that carry a body (blob uploads, manifest PUTs), on top of RegistryClient.

`PushClient` asks for the push scope (`repository:<name>:pull,push`, plus `pull` on the
repositories it mounts from) and adds `send`: any method, a body streamed from a file
region with `socket.sendfile` (zero-copy on plain http) in 1 MiB pieces, each counted for
the watchdog, so a slow but moving upload is not mistaken for a stalled one. A 401
answers its challenge once and the request is sent again (bodies are file regions, so
they can be). Connection failures at send time become `Transient`, which the uploader
retries; statuses are returned as they are for the caller to judge.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urljoin

from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.client import (
    USER_AGENT,
    RegistryClient,
    RegistryError,
    _split,
)
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.drivers.native.registry.transfer import Body, Origin, Transfer
from reconciler.model.records import record

PIECE = 1 << 20  # bytes per sendfile call: the watchdog and progress see the upload move
TRANSIENT_STATUSES = (408, 429, 500, 502, 503, 504)
_CONNECTION_FAILURES = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                        ConnectionError, BrokenPipeError, TimeoutError)  # fmt: skip


class Transient(RegistryError):
    """A failure worth another try: a reset connection, a 5xx, a 429."""


@record(frozen=True)
class FileRegion:
    """`length` bytes of `path` from `offset`: an upload body that can be sent again."""

    path: Path
    offset: int
    length: int


OnSent = Callable[[int], None]  # told the bytes sent so far of one body


class PushClient(RegistryClient):
    """A RegistryClient for one repository with push rights."""

    def __init__(self, domain: str, repository: str, options: RegistryOptions,
                 credentials: Mapping[str, auth.Credentials] | None = None,
                 mount_from: tuple[str, ...] = ()) -> None:  # fmt: skip
        super().__init__(domain, repository, options, credentials)
        # One token for everything: push here, and read where layers are mounted from.
        scopes = [f"repository:{repository}:pull,push"]
        scopes += [f"repository:{name}:pull" for name in sorted(set(mount_from)) if name]
        self.scope = " ".join(scopes)

    def url(self, target: str) -> str:
        """An absolute URL for a /v2/ path or a Location header (maybe relative)."""
        self._ensure_scheme()
        return urljoin(f"{self.scheme}://{self.host}/", target)

    def send(self, method: str, target: str, headers: Mapping[str, str] | None = None,
             body: FileRegion | bytes | None = None, what: str = "",
             on_sent: OnSent | None = None) -> Body:  # fmt: skip
        """One request; its response (any status) is for the caller to read or release."""
        url = self.url(target)
        what = what or target
        response: Body | None = None
        for _attempt in (1, 2):
            origin, path = _split(url)
            all_headers = dict(headers or {})
            if origin == (self.scheme, self.host):  # credentials stay with the registry
                header = self._auth_header()
                if header:
                    all_headers["Authorization"] = header
            response = self._send_with_body(origin, method, path, all_headers, body, what,
                                            on_sent)  # fmt: skip
            if response.status != 401 or _attempt == 2:
                return response
            self._answer_challenge(response, force=True)
        assert response is not None
        return response

    def _send_with_body(self, origin: Origin, method: str, path: str, headers: dict[str, str],
                        body: FileRegion | bytes | None, what: str,
                        on_sent: OnSent | None) -> Body:  # fmt: skip
        for attempt in (1, 2):
            conn, fresh = self._connection(origin)
            transfer = self.watchdog.begin(origin[1], what, conn)
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in {"User-Agent": USER_AGENT, **headers}.items():
                    conn.putheader(name, value)
                if method not in ("GET", "HEAD", "DELETE") or body is not None:
                    conn.putheader("Content-Length", str(_length(body)))
                conn.endheaders()
                _send_body(conn, transfer, body, on_sent)
                response = conn.getresponse()
                if response.length == 0:  # HEAD, 204, an empty 201/202: done, and reusable
                    response.read()
            except _CONNECTION_FAILURES as exc:
                self.watchdog.end(transfer)
                self._drop(origin)
                if transfer.reason:
                    raise RegistryError(transfer.reason) from None
                sent_nothing = not transfer.total and not isinstance(exc, TimeoutError)
                if sent_nothing and not fresh and attempt == 1:
                    continue  # a kept-alive socket the registry had closed: once more
                raise Transient(f"registry {origin[1]}: connection failed during {what}: "
                                f"{_reason(exc)}") from None  # fmt: skip
            except BaseException:
                self.watchdog.end(transfer)
                self._drop(origin)
                if transfer.reason:
                    raise RegistryError(transfer.reason) from None
                raise
            return Body(response, origin, transfer, self.watchdog, self.options.stall_timeout)
        raise AssertionError("unreachable")


def _length(body: FileRegion | bytes | None) -> int:
    if body is None:
        return 0
    return body.length if isinstance(body, FileRegion) else len(body)


def _send_body(conn: http.client.HTTPConnection, transfer: Transfer,
               body: FileRegion | bytes | None, on_sent: OnSent | None) -> None:  # fmt: skip
    if body is None:
        return
    sock = conn.sock
    assert sock is not None  # endheaders() connected it
    if isinstance(body, bytes):
        sock.sendall(body)
        transfer.total += len(body)
        return
    with body.path.open("rb") as source:
        done = 0
        while done < body.length:
            sent = sock.sendfile(source, body.offset + done, min(PIECE, body.length - done))
            if sent == 0:
                raise ConnectionResetError(0, f"{body.path} ended early")
            done += sent
            transfer.total += sent
            if on_sent is not None:
                on_sent(done)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__

