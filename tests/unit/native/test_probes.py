"""The native driver's tcp/http probes, on loopback (in_netns is exercised by the
integration tests, inside containers)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from reconciler.drivers.probes import http_probe, tcp_probe


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[int]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_tcp_and_http_probes(server: int) -> None:
    assert tcp_probe(server, 2.0)
    assert not tcp_probe(_closed_port(), 2.0)
    assert http_probe(server, "/ok", 2.0)
    assert not http_probe(server, "/broken", 2.0)  # a 5xx is unhealthy
    assert not http_probe(_closed_port(), "/ok", 2.0)
