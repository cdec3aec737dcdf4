"""How much an image may write: no layer may fill the host's disk.

A layer is untrusted: 1 MiB of gzip inflates to 1 GiB of tar. An image may unpack to at
most `ratio` times its compressed layers plus `allowance` (counted on the uncompressed
tar stream, which bounds what can be written: file data, and 512 bytes of header per
entry, so also the number of inodes). The store's filesystem must also keep
`max(min_free_bytes, min_free_ratio of its size)` free, checked before a layer starts
and every few MiB while it is written. docs/images.md lists the defaults.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from reconciler.model.errors import ImageError
from reconciler.model.records import record

_DISK_CHECK_EVERY = 8 << 20  # bytes unpacked between two statvfs calls


@record(frozen=True)
class UnpackLimits:
    """How much an image may unpack to, relative to its compressed size."""

    ratio: int = 10  # unpacked bytes allowed per compressed byte ...
    allowance: int = 1 << 30  # ... plus this much
    min_free_bytes: int = 1 << 30  # the store's filesystem keeps at least this free,
    min_free_ratio: float = 0.05  # and at least this share of its size


def human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Budget:
    """What one image (all its layers, unpacked in parallel by a pull) may still write."""

    def __init__(self, limits: UnpackLimits, compressed: int, root: Path, target: str) -> None:
        self.limits = limits
        self.compressed = compressed
        self.limit = limits.ratio * compressed + limits.allowance
        self.root = root
        self.target = target
        self.used = 0
        self._since_check = 0
        self._lock = threading.Lock()

    def start(self, incoming: int) -> None:
        """Before a layer: its `incoming` compressed bytes must fit above the reserve."""
        self._check_disk(incoming)

    def charge(self, count: int) -> None:
        """`count` more uncompressed bytes; ImageError past the limit or the reserve."""
        with self._lock:
            self.used += count
            self._since_check += count
            check = self._since_check >= _DISK_CHECK_EVERY
            if check:
                self._since_check = 0
            used = self.used
        if used > self.limit:
            raise ImageError(
                self.target,
                f"image unpacks to more than {human(self.limit)}: the limit is "
                f"{self.limits.ratio} x its {human(self.compressed)} of compressed layers + "
                f"{human(self.limits.allowance)}; refused",
            )
        if check:
            self._check_disk(0)

    def _check_disk(self, incoming: int) -> None:
        st = os.statvfs(self.root)
        free = st.f_bavail * st.f_frsize
        reserve = max(self.limits.min_free_bytes, int(self.limits.min_free_ratio
                                                      * st.f_blocks * st.f_frsize))  # fmt: skip
        if free - incoming < reserve:
            raise ImageError(
                self.target,
                f"the image store's filesystem ({self.root}) would drop below "
                f"{human(reserve)} free ({human(free)} free now); refused",
            )
