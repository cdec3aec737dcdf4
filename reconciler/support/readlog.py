"""A read log: every file a stretch of code opened, stat'ed or listed, each with a signature
that can be taken again later, so "has anything it read changed?" costs one pass over the
log instead of running the code again (the settled no-op apply, cli/settled.py).

Completeness comes from the interpreter, not from a hand-kept list: Python's audit hooks
report every `open`, `os.listdir` and `os.scandir`, and `os.stat`/`os.lstat` (which
`pathlib`'s exists/is_file/is_dir use) and the stat() of os.scandir's entries are wrapped
while a window is open. Anything else the
window does whose result cannot be taken again (a process, a socket, a write, an unknown
audit event) makes the log *unrecordable*: deny by default, so a new kind of read
can only cost speed, never hide a change.

Signatures: support/readsig.py. Python's own files (the interpreter's, the venv's,
reconcile's code) are left out: the caller stamps the code separately. Only digests and
paths are kept, never content.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator

from reconciler.support.readsig import real_lstat, real_scandir, real_stat, signature, stat_text

TYPE_CHECKING = False  # not `typing` at run time: a settled docker no-op imports this module
if TYPE_CHECKING:
    from typing import Any

# audit events that are the interpreter's own business, not a read of the host
_BENIGN = frozenset({
    "import", "exec", "compile", "marshal.loads", "marshal.load", "sys._getframe",
    "object.__getattr__", "object.__setattr__", "object.__delattr__", "builtins.id",
    "code.__new__", "function.__new__", "glob.glob", "glob.glob/2", "pathlib.Path.glob",
    "pathlib.Path.rglob", "os.walk", "sys.excepthook", "cpython._PySys_ClearAuditHooks",
})  # fmt: skip
_WRITES = frozenset({
    "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.chown", "os.utime",
    "os.truncate", "os.symlink", "os.link", "os.mkfifo", "os.mknod",
})  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_active: ReadLog | None = None
_inside = threading.local()  # our own reads inside the hook are not reported back to us
_installed = False
_trusted = 0  # stretches whose sockets are a caller's own, logged by it (trusted())
_trusted_lock = threading.Lock()


class ReadLog:
    def __init__(self, ignore: tuple[str, ...]) -> None:
        self.entries: dict[tuple[str, str], str] = {}  # (kind, absolute path) -> signature
        self.unrecordable: str | None = None  # the first reason, for tests and -v
        self.roots = tuple(p.rstrip("/") for p in (*ignore, *_code_roots()))
        self.closing: list[Callable[[], None]] = []  # at_close(): run as the window ends
        self.under = tuple(p + "/" for p in self.roots)

    def refuse(self, why: str) -> None:
        if self.unrecordable is None:
            self.unrecordable = why

    def ignored(self, path: str) -> bool:
        return path in self.roots or path.startswith(self.under)

    def makes_room(self, path: str) -> bool:
        """A folder above an ignored one (the state dir, made for its cache)."""
        return any(root.startswith(path.rstrip("/") + "/") for root in self.roots)

    def note(self, kind: str, path: Any, sig: str | None = None) -> None:
        if isinstance(path, int):
            self.refuse(f"{kind} by file descriptor")
            return
        where = os.path.abspath(os.fsdecode(path))
        if not self.ignored(where) and (kind, where) not in self.entries:
            self.entries[(kind, where)] = sig if sig is not None else signature(kind, where)


def _code_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))}  # the reconciler package itself  # fmt: skip
    return tuple(sorted(roots))


def _hook(event: str, args: tuple[Any, ...]) -> None:
    log = _active
    if log is None or getattr(_inside, "busy", False):
        return
    _inside.busy = True
    try:
        _on_event(log, event, args)
    finally:
        _inside.busy = False


def _on_event(log: ReadLog, event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in mode for c in "wax+")) or (
            mode is None and flags & _WRITE_FLAGS)  # fmt: skip
        if path is None or isinstance(path, int):
            return  # an fd already opened (os.fdopen): its open was reported
        if writing:
            where = os.path.abspath(os.fsdecode(path))
            if not log.ignored(where):
                log.refuse(f"a write to {where}")
            return
        log.note("read", path)
    elif event in ("os.listdir", "os.scandir"):
        path = args[0] if args and args[0] is not None else "."
        log.note("list", path)
    elif event == "os.chmod" and _same_mode(args):
        return  # the mode it has already: nothing changes (ImageStore's chmod of its root)
    elif event in _WRITES:
        paths = [os.path.abspath(os.fsdecode(a)) for a in args
                 if isinstance(a, str | bytes | os.PathLike)]  # fmt: skip
        if not all(log.ignored(p) or (event == "os.mkdir" and _no_change_mkdir(log, p))
                   for p in paths):  # fmt: skip
            log.refuse(f"{event} outside the ignored folders")
    elif event.startswith("socket.") and _trusted:
        return  # a trusted stretch: its caller notes what it read (note())
    elif event not in _BENIGN:
        log.refuse(f"audit event {event}")


def _same_mode(args: tuple[Any, ...]) -> bool:
    path, mode = args[0], args[1]
    if isinstance(path, int) or (len(args) > 2 and args[2] not in (None, -1)):  # dir_fd
        return False
    try:
        return bool(stat.S_IMODE(real_stat(path).st_mode) == mode)
    except OSError:
        return False


def _no_change_mkdir(log: ReadLog, path: str) -> bool:
    """A folder that is there already (makedirs' exist_ok: EEXIST, nothing made), or one
    above an ignored folder (the state dir, made for its cache)."""
    try:
        return stat.S_ISDIR(real_stat(path).st_mode) or log.makes_room(path)
    except OSError:
        return log.makes_room(path)


def _recording_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
    return _stat_call(real_stat, "stat", path, args, kwargs)


def _recording_lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
    return _stat_call(real_lstat, "lstat", path, args, kwargs)


def _stat_call(real: Any, kind: str, path: Any, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> os.stat_result:  # fmt: skip
    log = _active
    if log is not None and not getattr(_inside, "busy", False):
        if args or kwargs.get("dir_fd") is not None:
            log.refuse("a stat relative to a directory descriptor")
        elif kwargs.get("follow_symlinks") is False:
            kind = "lstat"
    try:
        result: os.stat_result = real(path, *args, **kwargs)
    except OSError as err:
        if log is not None and not getattr(_inside, "busy", False):
            log.note(kind, path, f"error:{err.errno}")
        raise
    if log is not None and not getattr(_inside, "busy", False):
        log.note(kind, path, stat_text(result))
    return result


class _Listing:
    """os.scandir's iterator while a window is open: its entries' stat() calls are logged
    (DirEntry.stat is C code that no os.stat wrapper sees)."""

    def __init__(self, listing: Any) -> None:
        self._listing = listing
        self._entries = iter(listing)

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listing.close()

    def close(self) -> None:
        self._listing.close()

    def __iter__(self) -> _Listing:
        return self

    def __next__(self) -> _Entry:  # os.walk calls next() on it
        return _Entry(next(self._entries))


class _Entry:
    __slots__ = ("_entry", "name", "path")

    def __init__(self, entry: Any) -> None:
        self._entry, self.name, self.path = entry, entry.name, entry.path

    def __fspath__(self) -> str:
        return str(self.path)

    def inode(self) -> int:
        return int(self._entry.inode())

    def is_symlink(self) -> bool:
        return bool(self._entry.is_symlink())

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        self._followed(follow_symlinks)
        return bool(self._entry.is_dir(follow_symlinks=follow_symlinks))

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        self._followed(follow_symlinks)
        return bool(self._entry.is_file(follow_symlinks=follow_symlinks))

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return os.stat(self.path) if follow_symlinks else os.lstat(self.path)  # logged

    def _followed(self, follow: bool) -> None:
        """The type of a link's target is a stat of it (the listing has the link's own)."""
        if follow and self._entry.is_symlink() and _active is not None:
            with contextlib.suppress(OSError):
                os.stat(self.path)


def _recording_scandir(path: Any = ".") -> _Listing:
    return _Listing(real_scandir(path))


@contextlib.contextmanager
def recording(ignore: tuple[str, ...] = ()) -> Iterator[ReadLog]:
    """Log what the body reads; activity under `ignore` (a cache whose entries derive from
    what was read) is neither logged nor refused. One window at a time per process."""
    global _active, _installed
    if _active is not None:
        raise RuntimeError("a read log is already recording")
    if not _installed:
        sys.addaudithook(_hook)  # for the life of the process: the hook idles when no window
        _installed = True
    log = ReadLog(ignore)
    _active = log
    os.stat, os.lstat = _recording_stat, _recording_lstat  # type: ignore[assignment]
    os.scandir = _recording_scandir  # type: ignore[assignment]
    try:
        yield log
        for last in log.closing:
            last()
    finally:
        os.stat, os.lstat, os.scandir = real_stat, real_lstat, real_scandir
        _active = None


def active() -> bool:
    return _active is not None


def refuse(why: str) -> None:
    """Make the open window (if any) unrecordable: for a read no signature can cover (the
    whole environment, as Compose interpolation reads it)."""
    if _active is not None:
        _active.refuse(why)


def note(kind: str, key: str, sig: str) -> None:
    """A read the caller signs itself (an engine's answer, read in a trusted stretch)."""
    log = _active
    if log is not None and (kind, key) not in log.entries:
        log.entries[(kind, key)] = sig


def noted(kind: str, key: str) -> bool:
    log = _active
    return log is not None and (kind, key) in log.entries


def forget(kind: str, key: str) -> None:
    """Drop a note the caller can no longer stand behind."""
    if _active is not None:
        _active.entries.pop((kind, key), None)


def at_close(last: Callable[[], None]) -> None:
    """Run `last` as the open window ends, still inside it (a caller's check that what it
    noted held for the whole window)."""
    if _active is not None:
        _active.closing.append(last)


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Sockets opened and used in here are the caller's own reads, which it note()s with a
    signature it can take again (cli/settled.py knows each such kind). Process-wide, as
    the window is: a caller's worker threads share it."""
    global _trusted
    with _trusted_lock:
        _trusted += 1
    try:
        yield
    finally:
        with _trusted_lock:
            _trusted -= 1


@contextlib.contextmanager
def unlogged() -> Iterator[None]:
    """This thread's reads in here are neither logged nor refused: for what describes the
    host rather than its state (where the cgroup hierarchies are mounted), read from a file
    that every other mount on the host changes (/proc/self/mountinfo)."""
    was = getattr(_inside, "busy", False)
    _inside.busy = True
    try:
        yield
    finally:
        _inside.busy = was
