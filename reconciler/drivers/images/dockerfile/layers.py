"""A RUN step's overlayfs upper directory -> a deterministic layer tar (OCI whiteouts).

Entries are sorted by path; mtimes are clamped to the build's epoch (SOURCE_DATE_EPOCH,
else 0) so the same commands give the same layer; owners and modes are kept (a RUN that
chowns means it). A 0:0 character device is overlayfs's deletion marker (-> `.wh.name`),
the `trusted.overlay.opaque` xattr an opaque directory (-> `.wh..wh..opq`). Hard links
inside the layer stay hard links."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import Any

from reconciler.drivers.images import oci

_OPAQUE_XATTR = "trusted.overlay.opaque"


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, _OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _entries(upper: Path) -> list[str]:
    names = []
    for top, dirs, files in os.walk(upper):
        rel_top = os.path.relpath(top, upper)
        for name in dirs + files:
            names.append(name if rel_top == "." else f"{rel_top}/{name}")
    return sorted(names, key=lambda n: n.split("/"))


def diff_to_tar(upper: Path, out: Path, epoch: int) -> dict[str, Any] | None:
    """Write the layer of `upper` to `out`; its descriptor, or None when nothing changed."""
    names = _entries(upper)
    if not names:
        return None
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for name in names:
            _add(tar, upper, name, epoch, links)
    with out.open("rb") as handle:
        digest, size = oci.hash_stream(handle)
    return {"mediaType": oci.MEDIA_LAYER, "digest": digest, "size": size}


def _add(tar: tarfile.TarFile, upper: Path, name: str, epoch: int,
         links: dict[tuple[int, int], str]) -> None:  # fmt: skip
    path = upper / name
    st = path.lstat()
    parent, _, base = name.rpartition("/")
    if _is_whiteout(st):
        tar.addfile(_info(f"{parent}/.wh.{base}" if parent else f".wh.{base}", st, epoch, 0o600))
        return
    info = _info(name, st, epoch, stat.S_IMODE(st.st_mode))
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        if _is_opaque(path):
            tar.addfile(_info(f"{name}/.wh..wh..opq", st, epoch, 0o600))
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        tar.addfile(info)
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type, info.linkname = tarfile.LNKTYPE, links[key]
            tar.addfile(info)
            return
        links[key] = name
        info.size = st.st_size
        with path.open("rb") as handle:
            tar.addfile(info, handle)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
        tar.addfile(info)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        tar.addfile(info)
    # sockets are not kept, as in Docker


def _info(name: str, st: os.stat_result, epoch: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid = mode, st.st_uid, st.st_gid
    info.mtime = min(int(st.st_mtime), epoch)
    info.uname = info.gname = ""
    return info
