"""The context's file hashes remembered by stat: a file is read again whenever its stat
could hide a change (pure: files in tmp_path, no clock but the real one)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from reconciler.drivers.images.dockerfile import hashcache
from reconciler.drivers.images.dockerfile.hashcache import HashCache


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files whose bytes were hashed, in order."""
    seen: list[Path] = []
    real = hashcache.hash_bytes

    def spy(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(hashcache, "hash_bytes", spy)
    return seen


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_and_save(cache_file: Path, root: Path, path: Path, racy_ns: int = 0) -> str:
    cache = HashCache(cache_file, root, racy_ns=racy_ns)
    digest = cache.file_hash(path)
    cache.save()
    return digest


def _rehash(cache_file: Path, root: Path, path: Path, racy_ns: int = 0) -> str:
    return HashCache(cache_file, root, racy_ns=racy_ns).file_hash(path)


def _context(tmp_path: Path, data: bytes = b"one") -> tuple[Path, Path, Path]:
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "f").write_bytes(data)
    return tmp_path / "hashes.json", root, root / "f"


def test_an_unchanged_file_is_not_read_again(tmp_path: Path, reads: list[Path]) -> None:
    cache_file, root, path = _context(tmp_path)
    assert _hash_and_save(cache_file, root, path) == _sha(b"one")
    assert _rehash(cache_file, root, path) == _sha(b"one")
    assert reads == [path]


def test_same_size_and_mtime_but_a_new_ctime_is_read_again(tmp_path: Path,
                                                           reads: list[Path]) -> None:  # fmt: skip
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path)
    before = path.stat()
    for _ in range(100_000):  # the kernel's timestamps tick coarsely: until ctime moves on
        path.write_bytes(b"two")  # same size, written in place: the inode stays
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
        if path.stat().st_ctime_ns != before.st_ctime_ns:
            break
    after = path.stat()
    assert after.st_ino == before.st_ino and after.st_mtime_ns == before.st_mtime_ns
    assert after.st_size == before.st_size and after.st_ctime_ns != before.st_ctime_ns
    assert _rehash(cache_file, root, path) == _sha(b"two")
    assert reads == [path, path]


def test_a_file_replaced_by_rename_is_read_again(tmp_path: Path, reads: list[Path]) -> None:
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path)
    before = path.stat()
    other = root / "new"
    other.write_bytes(b"two")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    keep = root / "keep"  # holds the old inode, so the new file cannot reuse its number
    os.link(path, keep)
    os.replace(other, path)
    assert path.stat().st_ino != before.st_ino
    assert _rehash(cache_file, root, path) == _sha(b"two")
    assert len(reads) == 2


def test_a_symlink_in_the_files_place_is_read_again(tmp_path: Path, reads: list[Path]) -> None:
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path)
    target = root / "target"
    target.write_bytes(b"two")
    path.unlink()
    path.symlink_to(target)
    assert _rehash(cache_file, root, path) == _sha(b"two")
    assert reads == [path, path]


def test_a_racy_entry_is_read_again(tmp_path: Path, reads: list[Path]) -> None:
    """Hashed within the racy window of its mtime: a same-tick write could hide."""
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path, racy_ns=hashcache.RACY_NS)
    assert _rehash(cache_file, root, path, racy_ns=hashcache.RACY_NS) == _sha(b"one")
    assert reads == [path, path]


def test_no_cache_reads_every_file_and_renews_the_entries(tmp_path: Path,
                                                          reads: list[Path]) -> None:  # fmt: skip
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path)
    cache = HashCache(cache_file, root, trust=False, racy_ns=0)
    assert cache.file_hash(path) == _sha(b"one")
    cache.save()
    assert _rehash(cache_file, root, path) == _sha(b"one")
    assert reads == [path, path]


def test_a_damaged_cache_file_is_an_empty_cache(tmp_path: Path, reads: list[Path]) -> None:
    cache_file, root, path = _context(tmp_path)
    for damage in (b"{not json", b'{"format": 1, "files": {"x": 1}}', b"[]",
                   b'{"format": 99, "files": {}}'):  # fmt: skip
        cache_file.write_bytes(damage)
        assert _rehash(cache_file, root, path) == _sha(b"one")
    cache_file.write_bytes(b'{"format": 1, "files": {"%s": [1, 2]}}' % str(path).encode())
    assert _rehash(cache_file, root, path) == _sha(b"one")
    assert len(reads) == 5


def test_files_outside_the_context_are_not_remembered(tmp_path: Path,
                                                      reads: list[Path]) -> None:  # fmt: skip
    cache_file, root, _path = _context(tmp_path)
    outside = tmp_path / "stage-tree-file"
    outside.write_bytes(b"x")
    _hash_and_save(cache_file, root, outside)
    assert not cache_file.exists()
    assert _rehash(cache_file, root, outside) == _sha(b"x")
    assert reads == [outside, outside]


def test_a_build_that_hashed_nothing_writes_nothing(tmp_path: Path) -> None:
    cache_file, root, path = _context(tmp_path)
    _hash_and_save(cache_file, root, path)
    inode = cache_file.stat().st_ino  # save() renames a new file into place
    cache = HashCache(cache_file, root, racy_ns=0)
    cache.file_hash(path)
    cache.save()
    assert cache_file.stat().st_ino == inode
