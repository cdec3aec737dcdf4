"""The content hashes of the context's files, remembered by their stat, as git's index does:
a rebuild with nothing changed reads no file of the context, only lstat()s them.

An entry is (size, mtime_ns, ctime_ns, inode, device, mode) -> sha256 of the bytes. It is
trusted only when all six still match, so an edit (new mtime and ctime), a replacement by
rename (new inode), a chmod (new ctime) or a symlink in the file's place (new mode) is
hashed again. A "racy" entry, one whose mtime or ctime is within RACY_NS of the moment it
was hashed, is never trusted: a write in the same timestamp tick as the hashing, on a
file system with coarse timestamps, would leave every stat field as it was.

The cache is a JSON file in the image store, written (temporary file, rename) only when a
build hashed something; a missing, damaged or foreign file is an empty cache. It holds
paths and hashes, never file content.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

from reconciler.support import readlog

RACY_NS = 2_000_000_000  # coarser than any timestamp granularity we know of (FAT: 2 s)
MAX_ENTRIES = 200_000  # beyond it, only what the last build used is kept
FORMAT = 1
_Entry = list[int | str]  # [size, mtime_ns, ctime_ns, ino, dev, mode, hashed_ns, sha256]


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode]


def hash_bytes(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """`file_hash(path)`: the sha256 (hex) of a regular file's bytes, from the cache when
    the file's stat says it did not change; `save()` writes what was learnt. Only files
    under `root` (the build context) are remembered: a stage's tree or an unpacked ADD
    archive lives in a temporary folder. `trust=False` (--no-cache) hashes every file and
    renews the entries."""

    def __init__(self, path: Path | None, root: Path | None = None, trust: bool = True,
                 racy_ns: int = RACY_NS) -> None:  # fmt: skip
        self.path = path  # None: nothing remembered, every file hashed
        self.racy_ns = racy_ns
        self._root = f"{str(root).rstrip('/')}/" if root is not None else None
        self._trust = trust
        self._entries: dict[str, _Entry] = self._load() if path is not None else {}
        self._used: set[str] = set()
        self._dirty = False

    def _load(self) -> dict[str, _Entry]:
        assert self.path is not None
        try:
            with readlog.unlogged():  # derived from the files' own lstat, which are logged
                data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        entries = data.get("files")
        return entries if isinstance(entries, dict) else {}

    def file_hash(self, path: Path) -> str:
        key = str(path)
        if self.path is None or self._root is None or not key.startswith(self._root):
            return hash_bytes(path)
        self._used.add(key)
        before = os.lstat(path)
        entry = self._entries.get(key)
        if entry is not None and self._trust and self._trusted(entry, before):
            return str(entry[7])
        hashed_ns = time.time_ns()
        digest = hash_bytes(path)
        after = os.lstat(path)
        if stat.S_ISREG(after.st_mode) and _signature(after) == _signature(before):
            self._entries[key] = [*_signature(after), hashed_ns, digest]
        else:  # changed while being read: hashed again next time
            self._entries.pop(key, None)
        self._dirty = True
        return digest

    def _trusted(self, entry: _Entry, st: os.stat_result) -> bool:
        if not isinstance(entry, list) or len(entry) != 8 or entry[:6] != _signature(st):
            return False
        hashed_ns = entry[6]
        return isinstance(hashed_ns, int) and \
            max(st.st_mtime_ns, st.st_ctime_ns) + self.racy_ns < hashed_ns

    def save(self) -> None:
        """Write the cache when this build hashed a file; a failure only costs re-hashing."""
        if self.path is None or not self._dirty:
            return
        entries = self._entries
        if len(entries) > MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self._used}
        data = json.dumps({"format": FORMAT, "files": entries}, separators=(",", ":"))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            # no fsync: a cache lost in a crash is re-hashed, a torn one fails to parse;
            # unlogged: a settled rebuild's record (cli/settle.py) logs the files, not this
            with readlog.unlogged(), open(tmp, "w", encoding="utf-8") as handle:
                handle.write(data)
            with readlog.unlogged():
                os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return
        self._dirty = False
