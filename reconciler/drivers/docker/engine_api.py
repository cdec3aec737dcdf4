"""A small Engine API client for the calls that are one JSON request and one JSON answer
(list, inspect, create, start, stop, kill, remove, networks, volumes, images): HTTP/1.1
over the engine's unix socket, or plain TCP, with kept-alive connections shared by threads.

Why not the docker SDK for these: `import docker` (with requests and urllib3) costs ~0.36 s
of interpreter time on every command, more than a no-op `apply` of 50 containers needs in
all; and its helpers add round trips (version negotiation). Why not http.client: it
imports ssl and email, ~50-90 ms more; the engine's answers need only status, headers,
and a body by Content-Length or chunks. The SDK stays for what streams
(pull, load, save, logs, exec, stats, events), imported only when one of those runs
(client.sdk). Requests go to the /v1.41 API: the JSON shapes are those of the oldest engine
supported, whatever the engine's own version.
"""

from __future__ import annotations

import _socket
import json
import threading
from collections.abc import Callable
from urllib.parse import quote, urlencode, urlsplit

from reconciler.drivers.docker.http1 import API_VERSION as API_VERSION
from reconciler.drivers.docker.http1 import Connection as _Connection
from reconciler.drivers.docker.http1 import EngineConnectionError as EngineConnectionError
from reconciler.drivers.docker.http1 import EngineHTTPError as EngineHTTPError
from reconciler.drivers.docker.http1 import EngineTimeout as EngineTimeout
from reconciler.support import readlog, readsig

TYPE_CHECKING = False  # not `typing` at run time: a settled docker no-op imports this module
if TYPE_CHECKING:
    from typing import Any

TIMEOUT = 120.0  # seconds for one call
MAX_IDLE = 32  # kept-alive connections; more threads than that open and close their own
READ_KIND = "engine-get"  # a read log's entries for this client's GETs


class UnsupportedHost(ValueError):
    pass


def _connector(host: str, timeout: float) -> Callable[[], _socket.socket]:
    """unix:///path, tcp://host:port or http://host:port (as the SDK's APIClient). A unix
    socket is made with _socket: the `socket` module (its enums, selectors) costs ~5 ms of
    every command's start, and is imported only for a TCP engine."""
    parts = urlsplit(host)
    if parts.scheme == "unix":
        path = parts.path or parts.netloc

        def unix() -> _socket.socket:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
            return sock

        return unix
    if parts.scheme in ("tcp", "http") and parts.hostname:
        address = (parts.hostname, parts.port or 2375)

        def tcp() -> _socket.socket:
            import socket

            return socket.create_connection(address, timeout=timeout)

        return tcp
    raise UnsupportedHost(f"{host}: only unix:// and tcp:// engine addresses are supported")


class EngineAPI:
    """Thread-safe: every call takes an idle connection (or opens one) and gives it back."""

    def __init__(self, host: str, timeout: float = TIMEOUT) -> None:
        self.host, self.timeout = host, timeout
        self._connect = _connector(host, timeout)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self.pid: int | None = None  # the engine process, from ping() (SO_PEERCRED)

    def _take(self) -> tuple[_Connection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.dropped():
                    return conn, True
                conn.close()
        return _Connection(self._connect()), False

    def _give_back(self, conn: _Connection) -> None:
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
        """The engine's API version (GET /_ping, unversioned); notes its pid."""
        peer: list[int | None] = []
        status, headers, _ = self._send_noted("GET", "/_ping", None, peer=peer)
        self.pid = peer[0] if peer else None
        if status != 200:
            raise EngineHTTPError(status, f"the engine answered {status} to /_ping")
        return headers.get("api-version", "")

    def call(self, method: str, path: str, query: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        """One versioned call; its JSON answer (None when empty)."""
        return self.exchange(method, path, query, body)[1]

    def status(self, method: str, path: str, query: dict[str, Any] | None = None,
               wait: float = 0.0) -> int:
        """One versioned call without an answer worth reading; its status. 304 is a success
        the caller may want to tell apart (start of a running, stop of a stopped container).
        `wait`: seconds the engine may take on top of the usual timeout (a stop's grace)."""
        return self.exchange(method, path, query, None, wait)[0]

    def exchange(self, method: str, path: str, query: dict[str, Any] | None,
                 body: Any, wait: float = 0.0) -> tuple[int, Any]:
        target = f"/v{API_VERSION}{path}"
        if query:
            target += "?" + urlencode({k: _query_value(v) for k, v in query.items()
                                       if v is not None})
        payload = None if body is None else json.dumps(body).encode()
        status, _, data = self._send_noted(method, target, payload, wait)
        if status >= 400:
            raise EngineHTTPError(status, _message(data, status))
        return status, json.loads(data) if data.strip() else None

    def get_many(self, paths: list[str]) -> list[tuple[int, Any]]:
        """Versioned GETs of `paths`, up to GETS_IN_FLIGHT at once on connections of their
        own, all sent and read by this thread: the engine answers each connection on its
        own, and no thread waits for the interpreter's lock to read an answer (a pool of
        threads spent ~5 ms a handoff in an observe). Each one's (status, JSON or None) in
        order; an error status is the caller's to judge. Noted in a read log as call()'s."""
        targets = [f"/v{API_VERSION}{path}" for path in paths]
        if not targets:
            return []
        if not readlog.active():
            answers = _GetMany(self, targets).run()
        else:
            from reconciler.drivers.docker import anchor  # only while recording

            with readlog.trusted():
                anchor.take_once(self)
                answers = _GetMany(self, targets).run()
            for target, (status, data) in zip(targets, answers, strict=True):
                readlog.note(READ_KIND, f"{self.host} {target}", answer_signature(status, data))
        return [(status, json.loads(data) if status < 400 and data.strip() else
                 _message(data, status) if status >= 400 else None)
                for status, data in answers]  # fmt: skip

    def _send_noted(self, method: str, target: str, payload: bytes | None, wait: float = 0.0,
                    peer: list[int | None] | None = None) -> tuple[int, dict[str, str], bytes]:
        """_send; a GET while a read log records (cli/settle.py) is noted in it, signed."""
        if method != "GET" or not readlog.active():
            return self._send(method, target, payload, wait, peer)
        from reconciler.drivers.docker import anchor  # only while recording

        with readlog.trusted():
            anchor.take_once(self)
            status, headers, data = self._send(method, target, payload, wait, peer)
        readlog.note(READ_KIND, f"{self.host} {target}", answer_signature(status, data))
        return status, headers, data

    def _send(self, method: str, target: str, payload: bytes | None, wait: float = 0.0,
              peer: list[int | None] | None = None) -> tuple[int, dict[str, str], bytes]:
        """`peer`: gets the pid of the process that answered (_Connection.peer_pid)."""
        for attempt in range(2):
            try:
                conn, reused = self._take()
            except (TimeoutError, OSError) as exc:
                raise EngineConnectionError(exc) from None
            try:
                conn.sock.settimeout(self.timeout + wait)
                if peer is not None:
                    peer[:] = [conn.peer_pid()]
                status, headers, data = conn.request(method, target, payload or b"")
            except TimeoutError:
                conn.close()
                raise EngineTimeout(target) from None
            except (OSError, ValueError) as exc:
                conn.close()
                # A kept-alive connection the engine dropped (it restarted): once more on a
                # new one. A fresh connection that fails means the engine is not there.
                if reused and attempt == 0:
                    continue
                raise EngineConnectionError(exc) from None
            if not conn.closed:
                self._give_back(conn)
            return status, headers, data
        raise AssertionError("unreachable")  # pragma: no cover


GETS_IN_FLIGHT = 16  # get_many's connections at once


class _GetMany:
    """EngineAPI.get_many's one pass: the GETs in flight, each on a connection of its own,
    sent and read by the calling thread alone."""

    def __init__(self, api: EngineAPI, targets: list[str]) -> None:
        self.api, self.targets = api, targets
        self.answers: list[tuple[int, bytes] | None] = [None] * len(targets)
        self.flight: list[tuple[int, _Connection, bool]] = []  # oldest first
        self.next = 0

    def run(self) -> list[tuple[int, bytes]]:
        try:
            while (self.next < len(self.targets) and len(self.flight) < GETS_IN_FLIGHT
                   and self._launch()):
                pass
            while self.flight:
                at, conn, reused = self.flight.pop(0)
                self.answers[at] = self._read(at, conn, reused)
                while self.next < len(self.targets) and len(self.flight) < GETS_IN_FLIGHT:
                    if not self._launch():
                        break
        except (OSError, ValueError) as exc:
            raise EngineConnectionError(exc) from None
        finally:
            for _, conn, _ in self.flight:  # an answer unread: not fit to be kept
                conn.close()
        return self.answers  # type: ignore[return-value]  # every slot is filled by now

    def _read(self, at: int, conn: _Connection, reused: bool) -> tuple[int, bytes]:
        try:
            status, _, data = conn.answer("GET")
        except TimeoutError:
            conn.close()
            raise EngineTimeout(self.targets[at]) from None
        except (OSError, ValueError):
            conn.close()
            if not reused:
                raise
            # a kept-alive connection the engine dropped (as _send): once more, on a new one
            status, _, data = self.api._send("GET", self.targets[at], None)
            return status, data
        if not conn.closed:
            self.api._give_back(conn)
        return status, data

    def _launch(self) -> bool:
        """The next GET sent on a connection of its own; False when the engine takes no
        more connections now (EAGAIN: its backlog is full), while answers are pending."""
        try:
            conn, reused = self.api._take()
        except BlockingIOError:
            if not self.flight:
                raise
            return False
        at, self.next = self.next, self.next + 1
        conn.sock.settimeout(self.api.timeout)
        try:
            conn.send("GET", self.targets[at], b"")
        except (OSError, ValueError):
            conn.close()
            if not reused:
                raise
            conn, reused = _Connection(self.api._connect()), False
            conn.sock.settimeout(self.api.timeout)
            conn.send("GET", self.targets[at], b"")
        self.flight.append((at, conn, reused))
        return True


def signatures_now(keys: list[str], workers: int = 4) -> dict[str, str]:
    """The signature of each GET a read log noted (`host target`), taken again now, a few
    at a time: the engine answers inspects in parallel (~0.5 ms each, 50 of them)."""
    apis: dict[str, EngineAPI] = {}
    found: dict[str, str] = {}
    pending = iter(keys)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                key = next(pending, None)
                if key is None:
                    return
                host, _, target = key.partition(" ")
                try:
                    api = apis.get(host) or apis.setdefault(host, EngineAPI(host, 10.0))
                except UnsupportedHost:
                    found[key] = "error:host"
                    continue
            found[key] = _signature_of(api, target)

    threads = [threading.Thread(target=work) for _ in range(min(workers, len(keys)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for api in apis.values():
        api.close()
    return found


def _signature_of(api: EngineAPI, target: str) -> str:
    try:
        status, _, data = api._send("GET", target, None)
    except (EngineConnectionError, EngineTimeout) as exc:
        return f"error:{type(exc).__name__}"
    return answer_signature(status, data)


def answer_signature(status: int, data: bytes) -> str:
    """A GET's answer, signed without what moves while nothing changes: the listing's
    `Status` ("Up 3 minutes"). A container with a health check signs differently at each
    probe (State.Health.Log): never answered from a record, which only costs speed."""
    if status != 200:
        return f"status:{status}"
    try:
        doc = json.loads(data) if data.strip() else None
    except ValueError:
        return readsig.digest(data)  # /_ping's "OK"
    if isinstance(doc, list):
        doc = [{k: v for k, v in item.items() if k != "Status"} if isinstance(item, dict)
               else item for item in doc]  # fmt: skip
    return readsig.digest(json.dumps(doc, sort_keys=True).encode())


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
