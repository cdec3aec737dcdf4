"""Removing a directory tree safely: iteratively, relative to open directory fds, never
following a symbolic link and never crossing into another mounted file system.

shutil.rmtree recurses once per level (a tree 2,000 levels deep, which any container or
layer may create, raises RecursionError) and works with paths that a deep tree makes
longer than PATH_MAX. Here one directory fd is open at a time: the walk goes down by
name and back up through "..", and remembers only the names still to visit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | Path, *, dir_fd: int | None = None) -> None:
    """Remove `path` (relative to `dir_fd` when given): a file, a link, or a whole tree.
    A missing path is no error. Raises OSError when something cannot be removed; a
    directory on another file system (a mount) is refused with EBUSY, never entered."""
    name = os.fspath(path)
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        _empty(fd, st.st_dev, name)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def _empty(top: int, device: int, shown: str) -> None:
    """Remove everything below the directory open as `top` (left open for the caller).
    An error names the whole path of what failed (`shown` is the top's), not a bare name."""
    fd = os.dup(top)
    # One entry per level below `top`: (this directory's name, its subdirectories to do).
    levels: list[tuple[str, list[str]]] = []
    try:
        _walk(fd, device, levels)
    except OSError as exc:
        where = os.path.join(shown, *(name for name, _ in levels), os.fsdecode(exc.filename or ""))
        raise OSError(exc.errno, exc.strerror, where.rstrip("/")) from exc


def _walk(fd: int, device: int, levels: list[tuple[str, list[str]]]) -> None:
    pending = _clear_files(fd, device)
    try:
        while True:
            if pending:
                child = pending.pop()
                child_fd = _open_child(fd, child, device)
                os.close(fd)
                fd = child_fd
                levels.append((child, pending))
                pending = _clear_files(fd, device)
                continue
            if not levels:
                return
            name, pending = levels.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            _retry_once(os.rmdir, name, fd)
    finally:
        os.close(fd)


def _open_child(fd: int, name: str, device: int) -> int:
    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    if os.fstat(child).st_dev != device:
        os.close(child)
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), name)  # a mount: never entered
    return child


def _clear_files(fd: int, device: int) -> list[str]:
    """Unlink every non-directory in the directory `fd`; return its subdirectories."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                _retry_once(os.unlink, entry.name, fd)
    return subdirs


def _retry_once(remove: Callable[..., None], name: str, fd: int) -> None:
    """A directory without write permission (seen when not root) is opened up once."""
    try:
        remove(name, dir_fd=fd)
    except PermissionError:
        with contextlib.suppress(OSError):
            os.chmod(fd, 0o700)
        remove(name, dir_fd=fd)
