"""Bounded and watched registry responses: no answer may exhaust memory or hang a pull.

- `read_capped` reads a body that is not a layer (the `/v2/` answer, challenges,
  redirects, errors, tokens, manifests, configs) up to a fixed cap per kind and refuses
  the first byte past it; a `Content-Length` above the cap is refused before any read.
- `Body` wraps every response: it reads with `read1` (what has arrived, never "wait for a
  full buffer"), counts the bytes for the watchdog, and turns socket failures into a
  `RegistryError` naming the registry and what it was sending.
- `Watchdog` is one thread per pull: past the pull's deadline, or when a response still
  arriving has brought fewer than `min_rate_bytes` over the last `min_rate_window`
  seconds, it shuts the socket down, which wakes the blocked reader; the reader then
  raises the watchdog's reason. A drip of one byte every 20 s never trips a socket
  timeout, so the rate has to be judged from outside the read.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from reconciler.drivers.native.registry.options import RegistryOptions

MAX_SMALL = 64 << 10  # /v2/, 401 challenges, redirects, error answers, token responses
Origin = tuple[str, str]  # (scheme, host[:port])


class RegistryError(Exception):
    """A registry answered badly or not at all; `pull.py` turns it into ImageError."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TooLarge(RegistryError):
    """A body passed its cap."""


def human(size: float) -> str:
    """1536 -> '1.5 KiB', 4194304 -> '4 MiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.3g} {unit}" if unit != "bytes" else f"{int(size)} bytes"
        size /= 1024
    raise AssertionError("unreachable")


class Transfer:
    """One request in flight: where, what, how many body bytes so far."""

    def __init__(self, host: str, what: str, conn: http.client.HTTPConnection,
                 now: float) -> None:  # fmt: skip
        self.host = host
        self.what = what
        self.conn = conn
        self.total = 0
        self.reason = ""  # set when the watchdog stopped it
        self.marks: deque[tuple[float, int]] = deque([(now, 0)])

    def abort(self, reason: str) -> None:
        self.reason = self.reason or reason
        sock = self.conn.sock
        if sock is not None:
            # The base class's shutdown: an SSLSocket's own drops its SSL object.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """The deadline and minimum rate of one pull, enforced from a thread of its own."""

    def __init__(
        self,
        host: str,
        repository: str,
        options: RegistryOptions,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
    ) -> None:
        self.host = host
        self.repository = repository
        self.options = options
        self.reason = ""  # why the whole pull was stopped (its deadline)
        self._clock = clock
        self._deadline = clock() + options.pull_timeout
        self._active: set[Transfer] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._want_thread = thread
        self._thread: threading.Thread | None = None

    def begin(self, host: str, what: str, conn: http.client.HTTPConnection) -> Transfer:
        now = self._clock()
        with self._lock:
            if not self.reason and now >= self._deadline:
                self.reason = self._deadline_message([what])
            if self.reason:
                raise RegistryError(self.reason)
            transfer = Transfer(host, what, conn, now)
            self._active.add(transfer)
            if self._want_thread and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pull-watchdog",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        return transfer

    def end(self, transfer: Transfer) -> None:
        with self._lock:
            self._active.discard(transfer)

    def close(self) -> None:
        self._stop.set()

    def stop_all(self, reason: str) -> None:
        """Stop every transfer in flight (a sibling failed; the pull is lost anyway)."""
        with self._lock:
            active = list(self._active)
        for transfer in active:
            transfer.abort(reason)

    def _run(self) -> None:
        opts = self.options
        interval = max(0.02, min(1.0, opts.min_rate_window / 10, opts.pull_timeout / 20))
        while not self._stop.wait(interval):
            self.tick()

    def tick(self) -> None:
        """One look at every transfer in flight (the thread calls this; tests may too)."""
        now = self._clock()
        with self._lock:
            active = list(self._active)
            if now >= self._deadline and not self.reason:
                self.reason = self._deadline_message(sorted(t.what for t in active))
        for transfer in active:
            failure = self.reason or self._too_slow(transfer, now)
            if failure:
                transfer.abort(failure)

    def _too_slow(self, transfer: Transfer, now: float) -> str:
        window = self.options.min_rate_window
        marks = transfer.marks
        marks.append((now, transfer.total))
        while len(marks) > 1 and marks[1][0] <= now - window:
            marks.popleft()
        since, base = marks[0]
        got = transfer.total - base
        if now - since < window or got >= self.options.min_rate_bytes:
            return ""
        return (f"registry {transfer.host} sent {got} bytes in {now - since:.0f} s for "
                f"{transfer.what}: below the minimum of {human(self.options.min_rate_bytes)} "
                f"per {window:g} s; stopped")  # fmt: skip

    def _deadline_message(self, whats: list[str]) -> str:
        during = f" (while fetching {', '.join(whats)})" if whats else ""
        return (f"registry {self.host}: pull of {self.repository} did not finish within "
                f"{self.options.pull_timeout:g} s, the pull deadline{during}; stopped")


class Body(io.RawIOBase):
    """A response being read: counted for the watchdog, failures named."""

    def __init__(self, response: http.client.HTTPResponse, origin: Origin, transfer: Transfer,
                 watchdog: Watchdog, stall: float) -> None:  # fmt: skip
        self.response = response
        self.origin = origin
        self.status = response.status
        self._transfer = transfer
        self._watchdog = watchdog
        self._stall = stall

    @property
    def what(self) -> str:
        return self._transfer.what

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.response.getheader(name, default)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        response = self.response
        try:
            n = self._read_some(response, buffer)
            if n and response.length == 0:
                response.read()  # marks the response complete: the connection may be reused
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None
        if self._transfer.reason:
            raise RegistryError(self._transfer.reason)
        if not n and response.length:
            raise RegistryError(f"registry {self._transfer.host} closed the connection after "
                                f"{self._transfer.total} bytes of {self.what}")  # fmt: skip
        self._transfer.total += n
        if not n:
            self.finish()
        return n

    @staticmethod
    def _read_some(response: http.client.HTTPResponse, buffer: bytearray | memoryview) -> int:
        """What has arrived (one receive, never "wait for a full buffer": the watchdog
        judges the rate by what each call brings), into `buffer`. A body of known length
        is received straight into it; a chunked one goes through http.client's read1."""
        if response.chunked or response.length is None or response.fp is None:
            data = response.read1(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        view = memoryview(buffer)[: response.length]  # never past the body
        n = response.fp.readinto1(view) if len(view) else 0
        response.length -= n
        return n

    def complete(self) -> bool:
        return self.response.isclosed()

    def finish(self) -> None:
        """No longer in flight (read to the end, or given back)."""
        self._watchdog.end(self._transfer)

    def _failure(self, exc: BaseException) -> RegistryError:
        transfer = self._transfer
        if transfer.reason:
            return RegistryError(transfer.reason)
        if isinstance(exc, TimeoutError):
            return RegistryError(f"registry {transfer.host} sent nothing for {self._stall:g} s "
                                 f"while sending {self.what} (after {transfer.total} bytes); "
                                 "stalled")  # fmt: skip
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return RegistryError(f"registry {transfer.host}: connection failed after "
                             f"{transfer.total} bytes of {self.what}: {detail}")  # fmt: skip


def read_capped(body: Body, cap: int, what: str = "") -> bytes:
    """The whole body, refused as soon as it passes `cap` bytes (or announces more)."""
    what = what or body.what
    host = body.origin[1]
    length = body.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > cap:
        raise TooLarge(f"registry {host} announced {int(length)} bytes for {what}, more "
                            f"than the {human(cap)} allowed; refused")  # fmt: skip
    chunks: list[bytes] = []
    count = 0
    while True:
        chunk = body.read(min(1 << 20, cap + 1 - count))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        count += len(chunk)
        if count > cap:
            raise TooLarge(f"registry {host} sent more than {human(cap)} for {what}; "
                                "refused")  # fmt: skip
