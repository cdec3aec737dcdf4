"""A small Engine API client for the calls that are one JSON request and one JSON answer
(list, inspect, create, start, stop, kill, remove, networks, volumes, images): http.client
over the engine's unix socket, or plain TCP, with kept-alive connections shared by threads.

Why not the docker SDK for these: `import docker` (with requests and urllib3) costs ~0.36 s
of interpreter time on every command, more than a no-op `apply` of 50 containers needs in
all; and its helpers add round trips (version negotiation). The SDK stays for what streams
(pull, load, save, logs, exec, stats, events), imported only when one of those runs
(client.sdk). Requests go to the /v1.41 API: the JSON shapes are those of the oldest engine
supported, whatever the engine's own version.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

API_VERSION = "1.41"
TIMEOUT = 120.0  # seconds for one call
MAX_IDLE = 32  # kept-alive connections; more threads than that open and close their own


class EngineHTTPError(Exception):
    """The engine answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class EngineConnectionError(Exception):
    """The engine could not be reached (no socket, refused, permission denied)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.permission = isinstance(cause, PermissionError)


class EngineTimeout(Exception):
    """The engine accepted the call but did not answer in time."""


class UnsupportedHost(ValueError):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _connection_factory(host: str, timeout: float) -> Any:
    """unix:///path, tcp://host:port or http://host:port (as the SDK's APIClient)."""
    parts = urlsplit(host)
    if parts.scheme == "unix":
        path = parts.path or parts.netloc
        return lambda: _UnixConnection(path, timeout)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        name, port = parts.hostname, parts.port or 2375
        return lambda: http.client.HTTPConnection(name, port, timeout=timeout)
    raise UnsupportedHost(f"{host}: only unix:// and tcp:// engine addresses are supported")


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that is readable was closed by the engine (or is broken)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class EngineAPI:
    """Thread-safe: every call takes an idle connection (or opens one) and gives it back."""

    def __init__(self, host: str, timeout: float = TIMEOUT) -> None:
        self.host = host
        self._new = _connection_factory(host, timeout)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _dropped(conn):
                    return conn, True
                conn.close()
        return self._new(), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def ping(self) -> str:
        """The engine's API version (GET /_ping, unversioned)."""
        status, headers, _ = self._send("GET", "/_ping", None)
        if status != 200:
            raise EngineHTTPError(status, f"the engine answered {status} to /_ping")
        return headers.get("api-version", "")

    def call(self, method: str, path: str, query: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        """One versioned call; its JSON answer (None when empty)."""
        return self.exchange(method, path, query, body)[1]

    def status(self, method: str, path: str, query: dict[str, Any] | None = None) -> int:
        """One versioned call without an answer worth reading; its status. 304 is a success
        the caller may want to tell apart (start of a running, stop of a stopped container)."""
        return self.exchange(method, path, query, None)[0]

    def exchange(self, method: str, path: str, query: dict[str, Any] | None,
                 body: Any) -> tuple[int, Any]:
        target = f"/v{API_VERSION}{path}"
        if query:
            target += "?" + urlencode({k: _query_value(v) for k, v in query.items()
                                       if v is not None})
        payload = None if body is None else json.dumps(body).encode()
        status, _, data = self._send(method, target, payload)
        if status >= 400:
            raise EngineHTTPError(status, _message(data, status))
        return status, json.loads(data) if data.strip() else None

    def _send(self, method: str, target: str, payload: bytes | None
              ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Host": "docker", "Content-Type": "application/json"}
        for attempt in range(2):
            conn, reused = self._take()
            try:
                conn.request(method, target, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                conn.close()
                raise EngineTimeout(target) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                # A kept-alive connection the engine dropped (it restarted): once more on a
                # new one. A fresh connection that fails means the engine is not there.
                if reused and attempt == 0:
                    continue
                raise EngineConnectionError(exc) from None
            if response.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        raise AssertionError("unreachable")  # pragma: no cover


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _message(data: bytes, status: int) -> str:
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        return str(doc["message"]).strip()
    return data.decode("utf-8", "replace").strip() or f"HTTP {status}"


def path_of(name: str) -> str:
    """A container, image, network or volume name in a path (as the SDK quotes it: the
    engine's routes take an image reference's `/` and `:` as they are)."""
    return quote(name, safe="/:")
