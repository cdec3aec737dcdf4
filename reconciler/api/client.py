"""The CLI's side of the API: one request at a time over a unix socket, loopback HTTP or
HTTPS, as `DOCKER_HOST` works for docker. Imported only when a loop answers (it brings
`http.client` and `ssl`)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.api.auth import is_loopback
from reconciler.model.errors import ReconcileError


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ApiClient:
    def __init__(self, url: str, token: str | None = None, ca: Path | None = None,
                 timeout: float = 120.0) -> None:
        """`url`: unix:///run/reconcile/api.sock, http://127.0.0.1:7780 (loopback only:
        the token would travel in clear), https://host:7780 (`ca`: the CA to trust)."""
        self.url, self.token, self.ca, self.timeout = url, token, ca, timeout
        parts = urlsplit(url)
        self.scheme = parts.scheme
        if parts.scheme == "unix":
            self.target = parts.path
        elif parts.scheme in ("http", "https") and parts.hostname:
            if parts.scheme == "http" and not is_loopback(parts.hostname):
                raise ReconcileError(f"--host {url}: plain http only to a loopback address; "
                                     "use https://")
            self.target = parts.netloc
        else:
            raise ReconcileError(f"--host {url!r}: expected unix:///PATH, "
                                 "https://HOST:PORT or http://127.0.0.1:PORT")

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        wait = self.timeout if timeout is None else timeout
        if self.scheme == "unix":
            return _UnixConnection(self.target, wait)
        if self.scheme == "http":
            return http.client.HTTPConnection(self.target, timeout=wait)
        context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        return http.client.HTTPSConnection(self.target, timeout=wait, context=context)

    def _open(self, method: str, path: str, body: Any = None,
              timeout: float | None = None) -> tuple[http.client.HTTPConnection,
                                                     http.client.HTTPResponse]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection(timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise ReconcileError(f"{self.url}: the loop's API did not answer "
                                 f"({type(err).__name__}: {err})") from None

    def call(self, method: str, path: str, body: Any = None,
             timeout: float | None = None) -> Any:
        """The JSON answer; the server's error as a ReconcileError (NotFound for 404)."""
        conn, response = self._open(method, path, body, timeout)
        try:
            raw = response.read()
        finally:
            conn.close()
        _check(response.status, raw, self.url)
        return json.loads(raw) if raw else None

    def lines(self, path: str) -> Iterator[bytes]:
        """A streamed answer, line by line, until the server ends it."""
        conn, response = self._open("GET", path, timeout=None)
        try:
            if response.status >= 400:
                _check(response.status, response.read(), self.url)
            if conn.sock is not None:
                conn.sock.settimeout(None)  # a followed log may stay quiet for long
            while line := response.readline():
                yield line
        finally:
            conn.close()


def _check(status: int, raw: bytes, url: str) -> None:
    if status < 400:
        return
    if status == 401:
        raise ReconcileError(f"{url}: unauthorized (--token-file / RECONCILE_TOKEN_FILE)")
    try:
        message = str(json.loads(raw).get("error", ""))
    except (ValueError, AttributeError):
        message = ""
    if status == 404:
        raise ReconcileError(message or "not found")
    raise ReconcileError(f"the loop refused: {message or f'HTTP {status}'}")
