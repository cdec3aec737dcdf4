"""A scripted Engine API on a unix socket, for the docker driver's client tests: real HTTP
over a real socket, answers from a table (method, path) -> (status, JSON, headers)."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

Answer = tuple[int, Any, dict[str, str]]


class FakeEngine:
    def __init__(self, socket_path: Path, api_version: str = "1.41") -> None:
        self.socket_path = socket_path
        self.answers: dict[tuple[str, str], Answer] = {
            ("GET", "/_ping"): (200, None, {"API-Version": api_version})}
        self.requests: list[tuple[str, str, Any]] = []  # method, path with query, body
        self.connections = 0
        self.delays: dict[tuple[str, str], float] = {}  # (method, path) -> seconds to hold
        self.close_after_answer = False

    @property
    def host(self) -> str:
        return f"unix://{self.socket_path}"

    def answer(self, method: str, path: str, status: int = 200, body: Any = None,
               headers: dict[str, str] | None = None) -> None:
        self.answers[(method, path)] = (status, body, headers or {})


def _handler(engine: FakeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as dockerd

        def setup(self) -> None:
            super().setup()
            engine.connections += 1

        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            engine.requests.append((self.command, self.path, json.loads(raw) if raw else None))
            path = self.path.split("?", 1)[0]
            time.sleep(engine.delays.get((self.command, path), 0.0))
            status, body, headers = engine.answers.get(
                (self.command, path), (404, {"message": f"no such thing: {path}"}, {}))
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if headers.get("Transfer-Encoding") == "chunked":  # as dockerd sends long lists
                self.end_headers()
                for at in range(0, len(data), 7):
                    piece = data[at:at + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            self.wfile.flush()
            if engine.close_after_answer:
                self.close_connection = True

        do_GET = do_POST = do_DELETE = _answer

    return Handler


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> Any:
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port)


@contextmanager
def fake_engine(tmp_path: Path, api_version: str = "1.41") -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path / "engine.sock", api_version)
    server = _Server(str(engine.socket_path), _handler(engine))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        server.shutdown()
        server.server_close()
