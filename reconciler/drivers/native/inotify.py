"""A bare inotify(7) fd: watches with the kernel's own event mask, events read as
(watch, mask, name). No move pairing, no thread per watch: what the caller does not ask
for never reaches Python (the death watch, deaths.py, asks for two kinds of event)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from collections.abc import Iterator

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_CLOEXEC = os.O_CLOEXEC
IN_NONBLOCK = os.O_NONBLOCK

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class Inotify:
    """One inotify instance (close() it: it is an fd)."""

    def __init__(self) -> None:
        self.fd = _checked(_libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK), "inotify_init1")

    def add_watch(self, path: str, mask: int) -> int:
        """The watch descriptor (the same one again for an inode already watched)."""
        return _checked(_libc.inotify_add_watch(self.fd, os.fsencode(path), mask), path)

    def read(self) -> Iterator[tuple[int, int, str]]:
        """The events queued now (none when there are none: the fd does not block)."""
        try:
            data = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return
        at = 0
        while at < len(data):
            wd, mask, _cookie, size = _HEADER.unpack_from(data, at)
            at += _HEADER.size
            name = data[at:at + size].split(b"\0", 1)[0]
            at += size
            yield wd, mask, os.fsdecode(name)

    def close(self) -> None:
        os.close(self.fd)


def _checked(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), what)
    return result
