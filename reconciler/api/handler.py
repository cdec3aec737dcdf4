"""One HTTP connection: auth and CSRF checks first, then the route, then the response,
whole or streamed (chunked). Errors become JSON `{"error": ...}` without internals."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from reconciler.api.auth import SAFE_METHODS, bearer_ok, cookie_ok, csrf_refusal
from reconciler.api.dashboard import login
from reconciler.api.routes import HttpError, Request, Response, Router, StreamResponse
from reconciler.model.errors import NotFound, ReconcileError
from reconciler.model.records import record
from reconciler.support.logsetup import logger

WRITE_TIMEOUT = 30.0  # a client that reads nothing for this long is dropped
IDLE_TIMEOUT = 120.0  # keep-alive connections idle this long are closed


@record
class Gate:
    """The rules of one listener: the token (None: the unix socket, no token) and the
    Host names it answers to (None: any)."""

    token: str | None
    hosts: frozenset[str] | None


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "reconcile"
    sys_version = ""
    router: ClassVar[Router]
    gate: ClassVar[Gate]
    max_body: ClassVar[int]

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10.0)
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.request.close()
                raise ConnectionAbortedError("TLS handshake failed") from None
        self.request.settimeout(IDLE_TIMEOUT)
        super().setup()

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError, OSError):
            super().handle()

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _handle(self) -> None:
        try:
            response = self._respond()
        except HttpError as err:
            response = _error(err.status, err.message)
        except NotFound as err:
            response = _error(404, str(err))
        except ReconcileError as err:
            response = _error(409, str(err))
        except Exception as exc:  # a bug: the type, never the message (may hold secrets)
            logger().error("api request failed", path=urlsplit(self.path).path,
                           error=type(exc).__name__)
            response = _error(500, f"internal error ({type(exc).__name__})")
        if isinstance(response, StreamResponse):
            self._stream(response)
        else:
            self._send(response)

    def _respond(self) -> Response | StreamResponse:
        headers = {k.lower(): v for k, v in self.headers.items()}
        refusal = None
        path = urlsplit(self.path).path
        if self.command in SAFE_METHODS and path == login.PATH:
            return login.login_page()  # the one page without the token: no data in it
        if self.gate.token is not None:
            by_header = bearer_ok(headers.get("authorization"), self.gate.token)
            if not by_header and not cookie_ok(headers.get("cookie"), self.gate.token):
                self.close_connection = True
                if path == "/" and "text/html" in headers.get("accept", ""):
                    return login.to_login()  # a browser opening the dashboard
                return Response(401, b'{"error": "unauthorized"}\n',
                                {"Content-Type": "application/json",
                                 "WWW-Authenticate": 'Bearer realm="reconcile"'})
            if not by_header and self.command not in SAFE_METHODS and "origin" not in headers:
                refusal = "a cookie-authorized change needs an Origin"  # browsers send one
        refusal = refusal or csrf_refusal(self.command, headers, self.gate.hosts)
        if refusal:
            raise HttpError(403, f"refused: {refusal}")
        body = self._body(headers)
        url = urlsplit(self.path)
        handler, params = self.router.match(self.command, url.path)
        request = Request(self.command, url.path, params, parse_qs(url.query), headers, body)
        return handler(request)

    def _body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            raise HttpError(411, "a request body needs a Content-Length")
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise HttpError(400, "Content-Length: expected a number") from None
        if length < 0 or length > self.max_body:
            self.close_connection = True  # its body is left unread
            raise HttpError(413, f"request body larger than {self.max_body} bytes")
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _stream(self, response: StreamResponse) -> None:
        """Chunk by chunk; an empty chunk from the producer is an idle tick: the moment
        to notice a client that went away."""
        self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        self.request.settimeout(WRITE_TIMEOUT)
        try:
            for chunk in response.chunks:
                if not chunk:
                    if _peer_closed(self.request):
                        return
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ssl.SSLError):
            return
        finally:
            close = getattr(response.chunks, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            if response.close is not None:
                response.close()

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are not logged: URLs are the client's business

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "unix"


def _error(status: int, message: str) -> Response:
    return Response(status, json.dumps({"error": message}).encode() + b"\n",
                    {"Content-Type": "application/json"})


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):
            return sock.pending() == 0 and not _tls_peek(sock)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _tls_peek(sock: ssl.SSLSocket) -> bool:
    """A TLS socket cannot MSG_PEEK; readable with nothing pending after a close_notify or
    EOF. Reading one byte of what a streaming client sends (nothing, normally) is fine."""
    try:
        sock.setblocking(False)
        return bool(sock.recv(1))
    except ssl.SSLWantReadError:
        return True
    except (OSError, ssl.SSLError):
        return False
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(WRITE_TIMEOUT)
