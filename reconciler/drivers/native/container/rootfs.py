"""A container's root filesystem: an overlay of the image's layers and a private upper dir.

lowerdir lists the image layers top first (overlayfs reads left to right), upperdir holds
the container's writes (kept across restarts, dropped on remove), workdir is overlayfs'
scratch space on the same filesystem as upperdir.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Sequence
from pathlib import Path

MNT_DETACH = 2
# The kernel copies mount options into one page; longer lowerdir lists fail with EINVAL.
MAX_OPTIONS = 4000
UNMOUNT_TRIES = 5

_libc = ctypes.CDLL(None, use_errno=True)


class MountError(OSError):
    pass


def overlay_options(layers: Sequence[Path], upper: Path, work: Path) -> str:
    """`layers` bottom -> top (as the image lists them); overlayfs wants top first."""
    lower = ":".join(str(p) for p in reversed(layers))
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


def mount_overlay(layers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    if not layers:
        # An image without layers (FROM scratch): overlayfs still needs one lower dir.
        empty = target.parent / "empty"
        empty.mkdir(mode=0o755, exist_ok=True)
        layers = [empty]
    options = overlay_options(layers, upper, work)
    if len(options) > MAX_OPTIONS:
        raise MountError(
            errno.EINVAL,
            f"overlay options are {len(options)} bytes ({len(layers)} layers); the kernel "
            f"accepts about {MAX_OPTIONS}: flatten the image or move the state dir to a "
            "shorter path",
        )
    result = _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, options.encode())
    if result != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"mount overlay on {target}: {os.strerror(err)}")


def is_mounted(target: Path) -> bool:
    """True when `target` is a mount point in this mount namespace (from mountinfo, so a
    dead or stale overlay still counts)."""
    wanted = os.path.realpath(target)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and _unescape(fields[4]) == wanted:
                    return True
    except OSError:
        return os.path.ismount(target)
    return False


def _unescape(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    if "\\" not in path:
        return path
    return path.encode().decode("unicode_escape")


def unmount(target: Path) -> None:
    """Unmount `target` (every stacked mount); retry while busy, then detach lazily so
    that a process still holding it cannot keep the state dir from being cleaned."""
    for attempt in range(UNMOUNT_TRIES):
        if not is_mounted(target):
            return
        if _libc.umount2(str(target).encode(), 0) == 0:
            continue
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
            return
        if err != errno.EBUSY:
            raise MountError(err, f"unmount {target}: {os.strerror(err)}")
        time.sleep(0.05 * (attempt + 1))
    while is_mounted(target):
        if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise MountError(err, f"lazy unmount {target}: {os.strerror(err)}")


def mount_readonly_overlay(layers: Sequence[Path], target: Path) -> None:
    """The merged tree of `layers` (bottom -> top), read-only: no upper dir. overlayfs
    needs two lower dirs for that, so a single layer is stacked on an empty one."""
    lowers = list(layers)
    empty = target.parent / f"{target.name}-empty"
    empty.mkdir(mode=0o755, exist_ok=True)
    while len(lowers) < 2:
        lowers.insert(0, empty)
    options = "lowerdir=" + ":".join(str(p) for p in reversed(lowers))
    result = _libc.mount(b"overlay", str(target).encode(), b"overlay", 1, options.encode())
    if result != 0:  # flag 1 = MS_RDONLY
        err = ctypes.get_errno()
        raise MountError(err, f"mount overlay on {target}: {os.strerror(err)}")
