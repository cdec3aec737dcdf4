"""Safe extraction of one layer tar into a fresh directory.

Never check-then-open: every path is walked component by component with
`os.open(component, O_DIRECTORY | O_NOFOLLOW, dir_fd=parent)`, and every file is created
with `O_CREAT | O_EXCL | O_NOFOLLOW` relative to its parent's fd. So a symlink planted by
an earlier entry (or anything else) is never followed while writing; symlinks themselves
are created as-is, their targets only mean something inside the container later.

Refused, with an ImageError naming the entry: absolute names, `..` components, hard links
whose target is missing or outside the layer, whiteouts with `/` or `..` in the name.
Device nodes and fifos are made as Docker makes them (a debootstrap or `docker export`
root file system has /dev/console and friends): as root only (not root, device nodes are
skipped), inside the store that only root can reach; a container's /dev is a fresh tmpfs
and the device cgroup decides what it may open (docs/security.md). OCI whiteouts become
overlayfs whiteouts: `.wh.<name>` a 0:0 character device, `.wh..wh..opq` the
`trusted.overlay.opaque=y` xattr.
Mode bits (setuid/setgid included, like Docker), owner (when root) and mtime are kept.
File data is written with holes for sparse entries and zero blocks (sparse.py), and the
uncompressed stream is charged to the image's `Budget` (limits.py) as it passes.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reconciler.drivers.images.blobio import read_into
from reconciler.drivers.images.inflate import GzipInflater
from reconciler.drivers.images.limits import Budget
from reconciler.drivers.images.sparse import copy_with_holes, write_sparse
from reconciler.model.errors import ImageError
from reconciler.support.trees import remove_tree

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# Extended attributes from PAX headers we restore; trusted.* (overlay) never, to keep a
# layer from forging opaque dirs or redirects.
_XATTR_ALLOWED = ("security.capability", "user.")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_TAR_BUFFER = 1 << 20  # stream reads of 1 MiB: the default 10 KiB costs a Python call chain each

Parts = tuple[str, ...]


class HashingReader(io.RawIOBase):
    """Passes bytes through while hashing and counting them (the layer's diff_id)."""

    def __init__(self, inner: IO[bytes], budget: Budget | None = None) -> None:
        self._inner = inner
        self.hasher = hashlib.sha256()
        self.count = 0
        self._budget = budget  # the image's unpacked-size limit, charged as bytes pass

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = read_into(self._inner, buffer)
        if self._budget is not None:
            self._budget.charge(n)
        self.hasher.update(memoryview(buffer)[:n])
        self.count += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


_STREAM_BUFFER = 1 << 20


def decompressed(raw: IO[bytes], target: str) -> IO[bytes]:
    """The uncompressed tar stream of a layer blob: gzip, zstd (if available) or plain."""
    # 1 MiB reads: with io's 8 KiB default every 8 KiB went through the Python readinto
    # layers below (socket, blob hash, blob file) and the GIL was the bottleneck of a pull.
    if isinstance(raw, io.BufferedReader):
        buffered = raw
    elif isinstance(raw, io.RawIOBase):  # the blob's VerifiedCopy: read straight into
        buffered = io.BufferedReader(raw, buffer_size=_STREAM_BUFFER)
    else:
        buffered = io.BufferedReader(_Raw(raw), buffer_size=_STREAM_BUFFER)
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        return io.BufferedReader(GzipInflater(buffered), buffer_size=_STREAM_BUFFER)
    if head == _ZSTD_MAGIC:
        return _zstd_reader(buffered, target)
    return buffered


class _Raw(io.RawIOBase):
    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return read_into(self._inner, buffer)


def _zstd_reader(stream: IO[bytes], target: str) -> IO[bytes]:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        raise ImageError(
            target,
            "layer is zstd-compressed and this Python has no zstd support "
            "(install the 'zstandard' package, or re-export the image with gzip layers)",
        ) from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(stream)
    return reader


def split_name(name: str, target: str) -> Parts:
    """A tar member name as path components inside the layer; unsafe names are refused."""
    if "\0" in name:
        raise ImageError(target, f"layer entry {name!r} has a NUL byte in its name")
    if name.startswith("/"):
        raise ImageError(target, f"layer entry {name!r} has an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ImageError(target, f"layer entry {name!r} has a '..' component")
    return parts


class LayerUnpacker:
    """Extracts the members of one layer tar below `root` (an empty directory)."""

    def __init__(self, root: Path, target: str) -> None:
        self.root = root
        self.target = target
        self.size = 0
        self._is_root = os.geteuid() == 0
        self._dirs: dict[Parts, tarfile.TarInfo] = {}

    def run(self, stream: IO[bytes]) -> int:
        """Extract every member; return the bytes of regular files written."""
        self._root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_TAR_BUFFER) as tar:
                for member in tar:
                    with self._naming(member):
                        self._entry(tar, member)
            self._apply_dir_attrs()
        except tarfile.TarError as exc:
            raise ImageError(self.target, f"layer is not a valid tar archive: {exc}") from exc
        finally:
            os.close(self._root_fd)
        return self.size

    @contextmanager
    def _naming(self, member: tarfile.TarInfo) -> Iterator[None]:
        """OSErrors become ImageErrors naming the entry."""
        try:
            yield
        except OSError as exc:
            raise ImageError(
                self.target, f"cannot unpack layer entry {member.name!r}: {exc.strerror or exc}"
            ) from exc

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        if not (member.isdir() or member.isdev() or member.isreg() or member.issym()
                or member.islnk()):
            raise ImageError(self.target, f"layer entry {member.name!r} has an unsupported type")
        parts = split_name(member.name, self.target)
        if not parts:  # "./": the layer root itself
            if member.isdir():
                self._dirs[()] = member
            return
        parent = self._open_dir(parts[:-1], member.name, create=True)
        try:
            self._place(tar, member, parent, parts)
        finally:
            os.close(parent)

    def _place(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, parts: Parts
    ) -> None:
        leaf = parts[-1]
        if leaf == OPAQUE_MARKER:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
        elif leaf.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other aufs metadata (.wh..wh.plnk, ...): meaningless for overlayfs
        elif leaf.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, parts, member)
        elif member.isdir():
            self._directory(parent, parts, member)
        elif member.isreg():
            self._regular(tar, parent, parts, member)
        elif member.isdev():
            self._special(parent, parts, member)
        elif member.issym():
            self._clear(parent, parts)
            os.symlink(member.linkname, leaf, dir_fd=parent)
            self._set_link_attrs(parent, leaf, member)
        else:
            self._hardlink(parent, parts, member)

    def _open_dir(self, parts: Parts, entry: str, create: bool) -> int:
        """An fd of the directory `parts`, walked without following any symlink."""
        fd = os.dup(self._root_fd)
        try:
            for index, part in enumerate(parts):
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o700, dir_fd=fd)
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    os.fchmod(next_fd, 0o755)  # implicit parent, like Docker
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    where = "/".join(parts[: index + 1])
                    raise ImageError(
                        self.target,
                        f"layer entry {entry!r} would be written through {where!r}, "
                        "which is a symlink or not a directory; refused",
                    ) from exc
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _clear(self, parent: int, parts: Parts, keep_dir: bool = False) -> bool:
        """Remove what an earlier entry put at `parts` (later entries win, as in tar).
        Returns True when a directory was kept."""
        try:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            remove_tree(parts[-1], dir_fd=parent)
            depth = len(parts)
            self._dirs = {k: v for k, v in self._dirs.items() if k[:depth] != parts}
        else:
            os.unlink(parts[-1], dir_fd=parent)
        return False

    def _directory(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        if not self._clear(parent, parts, keep_dir=True):
            os.mkdir(parts[-1], 0o700, dir_fd=parent)
        self._dirs[parts] = member  # mode/owner applied at the end, deepest first

    def _regular(
        self, tar: tarfile.TarFile, parent: int, parts: Parts, member: tarfile.TarInfo
    ) -> None:
        self._clear(parent, parts)
        fd = os.open(parts[-1], _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            if member.issparse():
                write_sparse(tar, member, fd, self.target)
            else:
                source = tar.extractfile(member)
                if source is not None:
                    copy_with_holes(source, fd, member.size)
            self._set_fd_attrs(fd, member)
        finally:
            os.close(fd)
        self.size += member.size

    def _hardlink(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        if member.linkname.startswith("/") or ".." in member.linkname.split("/"):
            raise ImageError(
                self.target,
                f"hard link {member.name!r} -> {member.linkname!r}: target escapes the layer",
            )
        target_parts = split_name(member.linkname, self.target)
        if not target_parts:
            raise ImageError(self.target, f"hard link {member.name!r} points at the layer root")
        try:
            target_dir = self._open_dir(target_parts[:-1], member.name, create=False)
            target_st = os.stat(target_parts[-1], dir_fd=target_dir, follow_symlinks=False)
        except (FileNotFoundError, ImageError) as exc:
            raise ImageError(
                self.target,
                f"hard link {member.name!r} -> {member.linkname!r}: "
                "target missing in the layer (or reached through a symlink)",
            ) from exc
        try:
            if not (stat.S_ISREG(target_st.st_mode) or stat.S_ISLNK(target_st.st_mode)):
                raise ImageError(
                    self.target, f"hard link {member.name!r} -> {member.linkname!r}: not a file"
                )
            if target_parts == parts:
                return
            self._clear(parent, parts)
            os.link(
                target_parts[-1],
                parts[-1],
                src_dir_fd=target_dir,
                dst_dir_fd=parent,
                follow_symlinks=False,
            )
        finally:
            os.close(target_dir)

    def _special(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        """A fifo, or a char/block device node (root only; skipped otherwise)."""
        if not member.isfifo() and not self._is_root:
            return
        self._clear(parent, parts)
        kind = stat.S_IFIFO if member.isfifo() else (
            stat.S_IFCHR if member.ischr() else stat.S_IFBLK)
        device = 0 if member.isfifo() else os.makedev(member.devmajor, member.devminor)
        os.mknod(parts[-1], kind | 0o600, device, dir_fd=parent)
        self._set_link_attrs(parent, parts[-1], member)
        # Just made by us in a folder only we write to: chmod cannot meet a planted link.
        os.chmod(parts[-1], member.mode & 0o7777, dir_fd=parent)

    def _whiteout(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        name = parts[-1][len(WHITEOUT_PREFIX) :]
        if not name or name == "." or "/" in name or ".." in name:
            raise ImageError(self.target, f"whiteout {member.name!r} names an unsafe path")
        hidden = (*parts[:-1], name)
        self._clear(parent, hidden)
        # The 0:0 char device is overlayfs's own whiteout marker, not a device from the tar.
        os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
        self._set_link_attrs(parent, name, member)

    def _set_fd_attrs(self, fd: int, member: tarfile.TarInfo) -> None:
        if self._is_root:
            os.fchown(fd, member.uid, member.gid)  # before chmod: chown clears setuid
        os.fchmod(fd, member.mode & 0o7777)
        self._set_xattrs(fd, member)
        os.utime(fd, ns=(int(member.mtime * 1e9),) * 2)

    def _set_link_attrs(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        if self._is_root:
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=(int(member.mtime * 1e9),) * 2, dir_fd=parent, follow_symlinks=False)

    def _set_xattrs(self, fd: int, member: tarfile.TarInfo) -> None:
        if not self._is_root:
            return
        for key, value in member.pax_headers.items():
            name = key.removeprefix("SCHILY.xattr.")
            if name != key and name.startswith(_XATTR_ALLOWED):
                os.setxattr(fd, name, value.encode("utf-8", "surrogateescape"))

    def _apply_dir_attrs(self) -> None:
        for parts in sorted(self._dirs, key=len, reverse=True):
            member = self._dirs[parts]
            fd = self._open_dir(parts, member.name, create=False)
            try:
                with self._naming(member):
                    self._set_fd_attrs(fd, member)
            finally:
                os.close(fd)


def unpack_layer(stream: IO[bytes], dest: Path, target: str,
                 budget: Budget | None = None) -> tuple[int, str]:  # fmt: skip
    """Extract the (possibly compressed) layer `stream` into the new directory `dest`.

    Returns (bytes of files written, diff_id: sha256 of the uncompressed tar)."""
    dest.mkdir(mode=0o755)
    os.chmod(dest, 0o755)
    hashing = HashingReader(decompressed(stream, target), budget)
    try:
        size = LayerUnpacker(dest, target).run(hashing)  # type: ignore[arg-type]
        hashing.drain()  # tar padding after the end marker still counts for the diff_id
    except (OSError, EOFError, zlib.error) as exc:
        raise ImageError(target, f"layer could not be read: {exc}") from exc
    return size, hashing.digest
