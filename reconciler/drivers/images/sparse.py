"""Writing a layer's files without filling the disk with zeros.

A tar sparse entry (GNU or PAX) stores only its data regions: an 8 GiB file may take 13
KiB in the layer. tarfile would hand us every zero of the holes; here only the regions
are read and written at their offsets, the holes stay holes. In ordinary files, every
aligned 64 KiB block of zeros is skipped the same way (a hole reads back as zeros, so the
content is unchanged). The file's length is set at the end with ftruncate.
"""

from __future__ import annotations

import os
import tarfile
from typing import IO

from reconciler.model.errors import ImageError

_BLOCK = 64 << 10
_ZEROS = bytes(_BLOCK)
_CHUNK = 1 << 20  # a multiple of _BLOCK: chunks start block-aligned in the file


def copy_with_holes(source: IO[bytes], fd: int, size: int) -> None:
    """Copy `size` bytes of `source` into the empty file `fd`, zero blocks as holes."""
    offset = 0
    while offset < size:
        chunk = source.read(min(_CHUNK, size - offset))
        if not chunk:
            raise EOFError("layer tar ended inside a file")
        _write_chunk(fd, chunk, offset)
        offset += len(chunk)
    os.ftruncate(fd, size)


def _write_chunk(fd: int, chunk: bytes, offset: int) -> None:
    if _ZEROS not in chunk:  # the usual case: one write
        _pwrite_all(fd, chunk, offset)
        return
    view = memoryview(chunk)
    start = 0  # of the pending run of data blocks
    for at in range(0, len(chunk), _BLOCK):
        if view[at : at + _BLOCK] == _ZEROS:
            if start < at:
                _pwrite_all(fd, view[start:at], offset + start)
            start = at + _BLOCK
    if start < len(chunk):
        _pwrite_all(fd, view[start:], offset + start)


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def write_sparse(tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int, target: str) -> None:
    """Write a sparse member's data regions at their offsets; the rest stays a hole."""
    stream = tar.fileobj  # positioned at the member's data (stream mode reads in order)
    assert stream is not None
    stored = tar.offset - member.offset_data  # bytes of data the archive holds, padded
    regions: list[tuple[int, int]] = []
    sparse: list[tuple[int, int]] = list(member.sparse or [])  # type: ignore[arg-type]
    for region in sparse:
        start, length = int(region[0]), int(region[1])
        if length:
            regions.append((start, length))
    if sum(n for _start, n in regions) > stored or any(
        start < 0 or start + n > member.size for start, n in regions
    ):
        raise ImageError(target, f"layer entry {member.name!r} has an invalid sparse map")
    for region_offset, length in regions:
        done = 0
        while done < length:
            piece = stream.read(min(_CHUNK, length - done))
            if not piece:
                raise EOFError("layer tar ended inside a sparse file")
            _write_chunk(fd, piece, region_offset + done)
            done += len(piece)
    os.ftruncate(fd, member.size)
