"""gzip decompression for layer streams, in large chunks.

zlib inflates the gzip format itself (wbits=31) and checks each member's CRC and length in
C. Python's gzip module adds a second CRC pass over the output and per-8 KiB Python work;
a layer's output is hashed with sha256 anyway, so that pass bought nothing but time.
"""

from __future__ import annotations

import io
import zlib
from typing import IO

_CHUNK = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS


class GzipInflater(io.RawIOBase):
    """A readable stream of the concatenated members of a gzip stream. A truncated or
    corrupt stream raises EOFError / zlib.error (both mean: refuse the layer)."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._inflate = zlib.decompressobj(_GZIP)
        self._pending = b""  # compressed input not yet given to zlib

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
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
        self._inflate = zlib.decompressobj(_GZIP)
        return True
