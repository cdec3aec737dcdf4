"""gzip decompression for layer streams, in large chunks.

zlib inflates the gzip format itself (wbits=31) and checks each member's CRC and length in
C. Python's gzip module adds a second CRC pass over the output and per-8 KiB Python work;
a layer's output is hashed with sha256 anyway, so that pass bought nothing but time.

The inflater is ISA-L's (`isal`, Intel's Intelligent Storage Acceleration Library: the
same zlib API, 2-3x faster to inflate) when installed, else the stdlib's zlib. Its errors
are raised as `zlib.error`, so callers see one kind whichever is used.
"""

from __future__ import annotations

import importlib
import io
import zlib
from typing import IO, Any


def _load_inflater() -> Any:
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:  # a platform without an isal wheel
        return zlib


_inflater = _load_inflater()
_ERROR: type[Exception] = _inflater.error

_CHUNK = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS


class GzipInflater(io.RawIOBase):
    """A readable stream of the concatenated members of a gzip stream. A truncated or
    corrupt stream raises EOFError / zlib.error (both mean: refuse the layer)."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._inflate: Any = _inflater.decompressobj(_GZIP)
        self._pending = b""  # compressed input not yet given to zlib

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return self._inflate_into(buffer)
        except _ERROR as exc:
            raise zlib.error(str(exc)) from None

    def _inflate_into(self, buffer: bytearray | memoryview) -> int:
        while True:
            if self._inflate.eof and not self._start_next_member():
                return 0
            if not self._pending:
                self._pending = self._source.read(_CHUNK)
                if not self._pending:
                    raise EOFError("gzip stream ended before its end-of-stream marker")
            out = self._inflate.decompress(self._pending, len(buffer))
            eof = self._inflate.eof
            self._pending = self._inflate.unused_data if eof else self._inflate.unconsumed_tail
            if out:
                buffer[: len(out)] = out
                return len(out)

    def _start_next_member(self) -> bool:
        """After a member's end: True when another member follows. Zero padding (which
        some tools append, and the gzip module skips too) is not a member."""
        while not self._pending.strip(b"\0"):
            self._pending = self._source.read(_CHUNK)
            if not self._pending:
                return False
        self._pending = self._pending.lstrip(b"\0")
        self._inflate = _inflater.decompressobj(_GZIP)
        return True
