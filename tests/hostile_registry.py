"""A scripted HTTP server on 127.0.0.1 playing a misbehaving registry or token realm.

Used for what a real docker-registry refuses to serve (a manifest that is both index and
manifest, a mediaType disagreeing with Content-Type, malformed digests) and for protocol
cases (token realms elsewhere, cross-origin redirects, expiring tokens). Every request is
recorded with its headers, so tests can assert where credentials went.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Drip:
    """A body sent piece by piece, `delay` seconds before each piece (after `wait` seconds
    before the status line). `length` is the announced Content-Length; None announces
    none (the body ends when the connection closes)."""

    pieces: Iterable[bytes]
    delay: float = 0.0
    length: int | None = None
    wait: float = 0.0


Answer = tuple[int, dict[str, str], bytes | Drip]
Route = Answer | Callable[[dict[str, str]], Answer]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Hostile:
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # path -> body bytes the socket took
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Hostile:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.seen.append(Seen(self.path, headers))
                route = owner.routes.get(self.path) or owner.routes.get(self.path.split("?")[0])
                status, extra, body = (route(headers) if callable(route) else route) if route \
                    else (404, {}, b'{"errors":[{"code":"NOT_FOUND"}]}')  # fmt: skip
                if isinstance(body, Drip):
                    owner.drip(self, status, extra, body)
                    return
                self.send_response(status)
                extra = {"Content-Length": str(len(body)), **extra}
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def drip(self, handler: BaseHTTPRequestHandler, status: int, extra: dict[str, str],
             body: Drip) -> None:  # fmt: skip
        path = handler.path
        self.sent.setdefault(path, 0)
        try:
            time.sleep(body.wait)
            handler.send_response(status)
            if body.length is not None:
                extra = {"Content-Length": str(body.length), **extra}
            else:
                handler.close_connection = True
            for key, value in extra.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.flush()
            for piece in body.pieces:
                time.sleep(body.delay)
                handler.wfile.write(piece)
                handler.wfile.flush()
                self.sent[path] += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up: what we wanted

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def serve_image(self, name: str, tag: str, manifest: bytes, media_type: str,
                    blobs: list[bytes]) -> None:  # fmt: skip
        """/v2/ open, the manifest under `tag`, and each blob under its digest."""
        from reconciler.drivers.images import oci

        self.routes["/v2/"] = (200, {}, b"{}")
        self.routes[f"/v2/{name}/manifests/{tag}"] = (200, {"Content-Type": media_type}, manifest)
        for blob in blobs:
            self.routes[f"/v2/{name}/blobs/{oci.sha256_digest(blob)}"] = (200, {}, blob)
