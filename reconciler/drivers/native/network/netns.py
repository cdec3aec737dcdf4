"""Named network namespaces: a file with the namespace bind-mounted on it.

Made without forking: a short-lived thread unshares its own network namespace (network
namespaces are per thread) and bind-mounts `/proc/self/task/<tid>/ns/net` onto the file;
the mount keeps the namespace alive after the thread exits. runc then joins the file's
namespace, so the namespace (and the veth in it) outlives container restarts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from pathlib import Path

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
NSFS_MAGIC = 0x6E736673

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def is_netns(path: Path) -> bool:
    """True when `path` is a bind mount of a network namespace (an nsfs inode)."""
    try:
        # An nsfs file lives on the nsfs device, unlike the empty file it is mounted on.
        return os.stat(path).st_dev != os.stat(path.parent).st_dev and _on_nsfs(path)
    except OSError:
        return False


def _on_nsfs(path: Path) -> bool:
    class StatFs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_long * 15)]

    buf = StatFs()
    if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return False
    return bool(buf.f_type == NSFS_MAGIC)


def create(path: Path) -> None:
    """Make the named namespace at `path` (an existing one is kept as it is)."""
    if is_netns(path):
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o444, exist_ok=True)
    failure: list[OSError] = []

    def unshare_and_mount() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            failure.append(OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed"))
            return
        source = f"/proc/self/task/{threading.get_native_id()}/ns/net"
        if _libc.mount(source.encode(), os.fsencode(path), b"none", MS_BIND, None) != 0:
            failure.append(OSError(ctypes.get_errno(), f"bind mount on {path} failed"))

    worker = threading.Thread(target=unshare_and_mount, name="netns-create")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def remove(path: Path) -> None:
    """Unmount and delete `path`; the namespace dies with its last user. Safe to repeat."""
    while is_netns(path):
        if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code != errno.EINVAL:
                raise OSError(code, f"umount {path} failed")
            break
    path.unlink(missing_ok=True)
