"""The HTTP server of `reconcile run`: the standard library's, one thread per connection.

Why `http.server` and no web framework: the API is a dozen routes of JSON and a few
streams; a framework would add an event loop or a WSGI server to the loop process (and
seconds of imports to each command that probes it), while threads suit the blocking
driver calls (logs, stats) the handlers make. Each connection gets its own thread, so a
slow client only ever holds its own; the loop never waits for the API (views and queues
are non-blocking on its side).

`ApiServer(view, registrars, config)` builds one `Router` from registrars, functions
`register(router, view)` (v1 here; /metrics and the dashboard elsewhere), and serves it on
a unix socket and, when asked, one TCP address (plain on loopback, else TLS), checking the
token and CSRF rules of `auth.py` before any route is looked up.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.api.auth import host_names, is_loopback
from reconciler.api.handler import ApiHandler, Gate
from reconciler.api.routes import Router
from reconciler.api.view import LoopView
from reconciler.model.errors import ReconcileError
from reconciler.model.records import record

Registrar = Callable[[Router, LoopView], None]
MAX_BODY = 1 << 20  # bytes of a request body
MAX_CONNECTIONS = 1024  # per listener, each a thread (followers of events and logs hold one)


def default_registrars() -> list[Registrar]:
    """What `reconcile run` serves: the v1 API (more modules append theirs here)."""
    from reconciler.api import dashboard, metrics, v1

    return [v1.register, metrics.register, dashboard.register]


@record(frozen=True)
class ServeConfig:
    unix_socket: Path | None = None
    socket_mode: int = 0o660
    socket_group: str | None = None
    listen: tuple[str, int] | None = None  # host, port
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token: str | None = None  # required with `listen`
    max_body: int = MAX_BODY


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:7780`, `[::1]:7780`, `0.0.0.0:7780`."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ReconcileError(f"--listen {text!r}: expected HOST:PORT (e.g. 127.0.0.1:7780)")
    return host.strip("[]"), int(port)


def check_config(config: ServeConfig) -> None:
    """Refuse what would be unsafe before anything is bound."""
    if config.listen is None:
        return
    host, _ = config.listen
    if config.token is None:
        raise ReconcileError("--listen needs --token-file FILE: every TCP request must "
                             "carry its bearer token")
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ReconcileError("--tls-cert and --tls-key go together")
    if config.tls_cert is None and not is_loopback(host):
        raise ReconcileError(f"--listen {host}: a non-loopback address needs TLS "
                             "(--tls-cert FILE --tls-key FILE)")


class _Bounded(socketserver.ThreadingMixIn):
    """A thread per connection, at most MAX_CONNECTIONS at once: the next are closed at
    accept (a flood of clients costs sockets, not threads without end)."""

    daemon_threads = True
    block_on_close = False
    slots = threading.BoundedSemaphore(1)  # replaced per server

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # type: ignore[attr-defined]
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client's failed handshake or reset is its own business, not a traceback

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _UnixServer(_Bounded, socketserver.UnixStreamServer):
    pass


class _TcpServer(_Bounded, ThreadingHTTPServer):
    address_family = socket.AF_INET


class _Tcp6Server(_TcpServer):
    address_family = socket.AF_INET6


class ApiServer:
    def __init__(self, view: LoopView, registrars: Sequence[Registrar] | None = None,
                 config: ServeConfig | None = None) -> None:
        self.view, self.config = view, config or ServeConfig()
        check_config(self.config)
        self.router = Router()
        for register in default_registrars() if registrars is None else registrars:
            register(self.router, view)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The bound TCP address (the port when 0 was asked)."""
        for server in self._servers:
            if isinstance(server, _TcpServer):
                host, port = server.server_address[:2]
                return str(host), int(port)
        return None

    def start(self) -> None:
        """Bind and serve in background threads."""
        try:
            if self.config.unix_socket is not None:
                self._serve(self._bind_unix(self.config.unix_socket))
            if self.config.listen is not None:
                self._serve(self._bind_tcp(*self.config.listen))
        except OSError as err:
            self.close()
            raise ReconcileError(f"API: cannot listen: {err.strerror or err}") from None

    def _serve(self, server: socketserver.BaseServer) -> None:
        server.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)  # type: ignore[attr-defined]
        self._servers.append(server)
        thread = threading.Thread(target=server.serve_forever, name="api-accept", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _handler(self, gate: Gate) -> type[BaseHTTPRequestHandler]:
        router, max_body = self.router, self.config.max_body

        class Bound(ApiHandler):
            pass

        Bound.router, Bound.gate, Bound.max_body = router, gate, max_body
        return Bound

    def _bind_unix(self, path: Path) -> socketserver.BaseServer:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if path.is_socket() and not _answers(path):
            path.unlink()  # a stale socket of a loop that died
        elif path.exists():
            raise ReconcileError(f"{path}: in use (another loop serves its API there?)")
        old = os.umask(0o177)  # never world-accessible, not even for an instant
        try:
            server = _UnixServer(str(path), self._handler(Gate(None, None)))
        finally:
            os.umask(old)
        if self.config.socket_group:
            try:
                gid = grp.getgrnam(self.config.socket_group).gr_gid
            except KeyError:
                server.server_close()
                path.unlink()
                raise ReconcileError(f"--api-group {self.config.socket_group}: no such "
                                     "group") from None
            os.chown(path, -1, gid)
        os.chmod(path, self.config.socket_mode)
        return server

    def _bind_tcp(self, host: str, port: int) -> socketserver.BaseServer:
        gate = Gate(self.config.token, host_names(host, port))
        cls = _Tcp6Server if ":" in host else _TcpServer
        server = cls((host, port), self._handler(gate))
        if port == 0:  # the names it answers to, with the port really bound
            gate.hosts = host_names(host, int(server.server_address[1]))
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            try:
                context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
            except (OSError, ssl.SSLError) as err:
                server.server_close()
                raise ReconcileError(f"--tls-cert/--tls-key: cannot load them "
                                     f"({type(err).__name__})") from None
            # The handshake happens in the connection's thread, not in accept's.
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
        return server

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self.config.unix_socket is not None and self._servers:
            with contextlib.suppress(FileNotFoundError):
                self.config.unix_socket.unlink()
        self._servers.clear()

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True
