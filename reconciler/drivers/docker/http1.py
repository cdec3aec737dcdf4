"""One HTTP/1.1 connection to the engine over a connected socket, kept alive between calls
(drivers/docker/engine_api.py pools them). Not http.client: it imports ssl and email
(~50-90 ms of start-up here) for nothing this client needs. Imports no `socket` either
(its enums cost a settled no-op ~5 ms): the socket is the caller's.
"""

from __future__ import annotations

import _socket
import select
import sys

API_VERSION = "1.41"  # the requests' /v1.41 prefix (engine_api.py says why)


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


class Connection:
    """One connection; `sock` a connected socket.socket or _socket.socket."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock, self.closed = sock, False
        # What was received and not yet parsed is _buffer[_at:]: parsing moves _at rather
        # than copying the rest at every chunk (an event log of 256 chunks in 64 KiB reads
        # copied ~16 MiB, ~5 ms, each time the anchor asked for it).
        self._buffer, self._at = bytearray(), 0

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def peer_pid(self) -> int | None:
        """The pid of the process that holds the other end of a unix socket (SO_PEERCRED:
        struct ucred's first field); None over TCP or from another pid namespace."""
        if self.sock.family != _socket.AF_UNIX:
            return None
        try:
            raw = self.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        except OSError:
            return None
        pid = int.from_bytes(raw[:4], sys.byteorder, signed=True)
        return pid if pid > 0 else None

    def dropped(self) -> bool:
        """An idle socket that is readable was closed by the engine (or is broken)."""
        try:
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def request(self, method: str, target: str, payload: bytes) -> tuple[int, dict[str, str],
                                                                           bytes]:
        self.send(method, target, payload)
        return self.answer(method)

    def send(self, method: str, target: str, payload: bytes) -> None:
        head = (f"{method} {target} HTTP/1.1\r\nHost: docker\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
        self.sock.sendall(head.encode("latin-1") + payload)

    def answer(self, method: str) -> tuple[int, dict[str, str], bytes]:
        """The answer to the request sent last (`method`: its method)."""
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {lines[0][:40]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        body = self._body(status, method, headers)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def _body(self, status: int, method: str, headers: dict[str, str]) -> bytes:
        if status in (204, 304) or 100 <= status < 200 or method == "HEAD":
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                chunk = self._exactly(size + 2)[:size]  # the engine sends no trailers
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        if "content-length" in headers:
            return self._exactly(int(headers["content-length"]))
        data = bytes(self._buffer[self._at:]) + b"".join(iter(lambda: self.sock.recv(65536),
                                                               b""))
        self._buffer, self._at = bytearray(), 0
        self.close()  # the length is the connection's end
        return data

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the engine closed the connection")
        if self._at:  # drop what was parsed before the buffer grows
            del self._buffer[:self._at]
            self._at = 0
        self._buffer += data

    def _until(self, marker: bytes) -> bytes:
        while (at := self._buffer.find(marker, self._at)) < 0:
            self._fill()
        found = bytes(self._buffer[self._at:at])
        self._at = at + len(marker)
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) - self._at < size:
            self._fill()
        found = bytes(self._buffer[self._at:self._at + size])
        self._at += size
        return found
