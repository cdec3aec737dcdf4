"""Signatures of what a read log (support/readlog.py) saw, taken the same way when it is
recorded and when it is checked again (cli/settled.py's fast path imports only this module:
no typing, pathlib or threading, each a few milliseconds of a ~30 ms command).

A file's bytes by SHA-256 (up to CONTENT_LIMIT; beyond, its stat); a listing by its names
and entry types; a stat by type, mode, inode, device and (not for a folder) size, mtime and
ctime; an error by errno.
`/proc/PID/stat` by liveness, parent and start time only (its counters move).
"""

from __future__ import annotations

import os
import stat

try:  # CPython's own SHA-256: importing hashlib first loads OpenSSL (~4 ms)
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other interpreters, Python >= 3.12 (_sha2)
    from hashlib import sha256

CONTENT_LIMIT = 8 << 20
real_stat, real_lstat = os.stat, os.lstat  # taken before a window wraps them
real_scandir = os.scandir


def digest(data: bytes) -> str:
    text: str = sha256(data).hexdigest()
    return text


def signature(kind: str, path: str) -> str:
    if kind == "read":
        return _content(path)
    if kind == "list":
        return _listing(path)
    return _stat_sig(path, follow=kind == "stat")


def stat_text(st: os.stat_result) -> str:
    """A folder by type, mode and identity only: its times move with every entry made in
    it (/tmp, the image store), and what its entries are is a listing's to sign."""
    kind = f"{stat.S_IFMT(st.st_mode):o}:{stat.S_IMODE(st.st_mode):o}:{st.st_ino}:{st.st_dev}"
    if stat.S_ISDIR(st.st_mode):
        return kind
    return f"{kind}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _stat_sig(path: str, follow: bool) -> str:
    try:
        return stat_text(real_stat(path) if follow else real_lstat(path))
    except OSError as err:
        return f"error:{err.errno}"


def _content(path: str) -> str:
    try:
        if path.startswith("/proc/") and path.endswith("/stat"):
            return _proc_stat(path)
        # non-blocking: a FIFO must not hang the check (regular files ignore the flag)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > CONTENT_LIMIT:
                return "stat:" + stat_text(st)
            return digest(f.read())
    except (OSError, ValueError, IndexError) as err:  # a /proc/PID/stat of another shape
        return f"error:{getattr(err, 'errno', None)}"


def _proc_stat(path: str) -> str:
    with open(path, "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    alive = fields[0] not in (b"Z", b"X")
    return f"proc:{alive}:{int(fields[1])}:{int(fields[19])}"  # ppid, starttime


def _listing(path: str) -> str:
    try:
        with real_scandir(path) as entries:
            names = sorted(f"{e.name}/{e.is_dir(follow_symlinks=False):d}" for e in entries)
    except OSError as err:
        return f"error:{err.errno}"
    return digest("\0".join(names).encode("utf-8", "surrogateescape"))


def unchanged(entries: list[list[str]]) -> bool:
    """Whether every (kind, path, signature) of a stored log still holds; an entry of a
    kind this module does not sign (a caller's own, readlog.note()) never holds."""
    for kind, path, sig in entries:
        if kind not in ("read", "list", "stat", "lstat") or signature(kind, path) != sig:
            return False
    return True
