"""One pass over an untrusted layer blob: copy to a work file, hash, count, report progress.

The unpacker reads the blob through `VerifiedCopy`, so a layer is downloaded (or read from
an archive), written, hashed and unpacked in a single pass. Nothing is trusted until
`finish()` has seen the end of the stream: digest and size must equal the descriptor, and
a stream longer than declared is refused as soon as the first extra byte arrives.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import IO

from reconciler.drivers.images import oci

ProgressFn = Callable[[str, int, int | None], None]
_CHUNK = 1 << 20
_REPORT_EVERY = 1 << 20


class VerifiedCopy(io.RawIOBase):
    def __init__(self, source: IO[bytes], out: IO[bytes], layer: oci.LayerRef,
                 progress: ProgressFn | None = None, label: str = "") -> None:  # fmt: skip
        self._source = source
        self._out = out
        self.layer = layer
        self._hasher = hashlib.sha256()
        self.count = 0
        self._progress = progress
        self._label = label or f"layer {layer.digest[:19]}"
        self._reported = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = read_into(self._source, buffer)  # straight into the reader's buffer: no copy
        if not n:
            return 0
        if self.count + n > self.layer.size:
            raise oci.FormatError(
                f"layer blob {self.layer.digest}: body is longer than the declared "
                f"{self.layer.size} bytes; refused"
            )
        data = memoryview(buffer)[:n]
        self._hasher.update(data)
        self._out.write(data)
        self.count += n
        if self._progress is not None and (
            self.count - self._reported >= _REPORT_EVERY or self.count == self.layer.size
        ):
            self._reported = self.count
            self._progress(self._label, self.count, self.layer.size)
        return n

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hasher.hexdigest()

    def finish(self) -> None:
        """Read to the end and check digest and size; FormatError when they differ."""
        self.drain()
        self._out.flush()
        if self.digest != self.layer.digest or self.count != self.layer.size:
            raise oci.FormatError(
                f"layer blob {self.layer.digest} ({self.layer.size} bytes) has digest "
                f"{self.digest} and {self.count} bytes: content does not match"
            )


def read_into(source: IO[bytes], buffer: bytearray | memoryview) -> int:
    """`source.readinto(buffer)` where the stream has it (files, sockets, tar members do),
    else a read and a copy."""
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer))
    data = source.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)
