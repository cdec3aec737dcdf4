"""Atomic file writes: a reader sees the old content or the new, never half of it.

The data goes to a temporary file in the target's own folder (a rename is only atomic
within one file system), is fsynced, renamed over the target, then the folder is fsynced
so the rename itself survives a crash. The temporary name is unique per call, so threads
and processes writing the same target never share one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes, *, mode: int | None = None,
                durable: bool = True) -> None:
    """Replace `path` with `data`. Without `mode` the file gets the usual 0666 minus the
    umask, as open() would give it; with `mode` exactly that (umask not applied).
    `durable=False` skips both fsyncs, for a cache whose reads prove it (a crash may then
    lose the new content or leave it torn: the reader must treat either as a miss)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode)


def write_json(path: Path, value: Any, *, indent: int | None = 1, mode: int | None = None,
               default: Any = None) -> None:
    """`value` as JSON with sorted keys (stable files, readable diffs), newline-terminated.
    A missing parent folder is made (0700: state files are root's)."""
    text = json.dumps(value, sort_keys=True, indent=indent, default=default)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_text(path, text + "\n", mode=mode)


def read_json(path: Path) -> Any:
    """The document, or None when the file is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:  # a few file systems cannot fsync a folder; the data is synced
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
