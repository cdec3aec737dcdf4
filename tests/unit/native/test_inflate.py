"""The gzip inflater of layer streams agrees with the gzip module, and refuses what it
refuses."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest

from reconciler.drivers.images.inflate import GzipInflater


def _read(data: bytes, size: int = 7000) -> bytes:
    stream = GzipInflater(io.BytesIO(data))
    chunks = []
    buffer = bytearray(size)
    while n := stream.readinto(buffer):
        chunks.append(bytes(buffer[:n]))
    return b"".join(chunks)


@pytest.mark.parametrize("size", [0, 1, 65_536, 3_000_000])
def test_same_bytes_as_the_gzip_module(size: int) -> None:
    payload = os.urandom(size // 2) + b"a" * (size - size // 2)
    assert _read(gzip.compress(payload)) == payload


def test_concatenated_members_and_zero_padding() -> None:
    data = gzip.compress(b"one ") + gzip.compress(b"two") + b"\0" * 512
    assert _read(data) == gzip.decompress(data) == b"one two"


def test_truncated_stream_is_refused() -> None:
    data = gzip.compress(os.urandom(200_000))
    with pytest.raises(EOFError):
        _read(data[: len(data) // 2])


def test_corrupt_crc_is_refused() -> None:
    data = bytearray(gzip.compress(b"payload" * 1000))
    data[-8] ^= 0xFF  # the member's CRC32
    with pytest.raises(zlib.error):
        _read(bytes(data))


def test_garbage_after_a_member_is_refused() -> None:
    with pytest.raises(zlib.error):
        _read(gzip.compress(b"ok") + b"not gzip at all")
