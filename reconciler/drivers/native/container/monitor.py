"""The per-container monitor: one small process per container, outliving reconcile.

Forked by the monitor zygote (zygote.py: what the driver uses), or run on its own as
``python -I -S monitor.py <container dir> <runc> <runc root> <name> [options]`` (stdlib
only, no project imports, so that its resident memory stays small).

1. The launched process forks; the child calls setsid(), becomes a child subreaper
   (prctl PR_SET_CHILD_SUBREAPER) and runs ``runc create`` (``runc run -d`` with --run)
   with two pipes as the container's stdout/stderr (runc hands them through in detached,
   non-tty mode). When runc exits, the container's init is re-parented to the monitor, so the
   monitor can waitpid() it and learn the real exit status.
2. The child tells the launched process "ok" (or runc's error text) through a sync pipe;
   the launched process prints that and exits 0/1, so the driver sees a plain
   success/failure while the monitor lives on, parented to init.
3. The monitor pumps the pipes into logs/container.log as JSON lines
   {"t": time, "s": "stdout"|"stderr", "l": text}, rotating by size, and on the
   container's exit writes exit.json {exit_code, signal, finished_at, oom_killed}
   atomically, appends the `died` event to the journal, deletes runc's state of the dead
   run (`runc delete`), drains the pipes and exits.

Options: --run (`runc run --detach` instead of `runc create`: created and started by one
runc process), --log-max-bytes N (default 10 MiB), --log-max-files N (default 3, including the
live file), --oom-file PATH (repeatable: cgroup files with an "oom_kill N" line).
"""

from __future__ import annotations

import _signal
import os
import sys
from select import select
from time import monotonic
from time import time as wall_clock

# Bound once, here (see "Memory" below)
set_handler, set_wakeup_fd = _signal.signal, _signal.set_wakeup_fd  # not signal.signal
close, dup2, fsync, getpid, lseek = os.close, os.dup2, os.fsync, os.getpid, os.lseek
mkdir, pipe, posix_spawn, replace = os.mkdir, os.pipe, os.posix_spawn, os.replace
set_blocking, setsid, unlink, waitpid = os.set_blocking, os.setsid, os.unlink, os.waitpid
os_open, os_read, os_write = os.open, os.read, os.write
O_RDONLY, O_RDWR, SEEK_END, WNOHANG = os.O_RDONLY, os.O_RDWR, os.SEEK_END, os.WNOHANG
POSIX_SPAWN_DUP2 = os.POSIX_SPAWN_DUP2
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
APPEND_FILE = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC

try:
    from _json import encode_basestring_ascii as _json_string  # C; no `re`/`enum` import
except ImportError:  # a Python built without _json: json.dumps per line
    _json_string = None  # type: ignore[assignment]

PR_SET_CHILD_SUBREAPER = 36
MAX_LINE = 16 * 1024  # longer lines are split, like Docker's json-file driver
DRAIN_SECONDS = 2.0
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READ_SIZE = MAX_LINE  # one pipe read: a 64 KiB bytes object per read dirtied heap pages
IGNORED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE)  # ints
_libc = None  # ctypes' libc, loaded once (by the zygote, before it forks)

# Memory (docs/native.md "Choosing the monitor"): a forked monitor's cost is the pages of
# the zygote it writes to, and every object it touches (a reference count) is a page. So
# the code path of a monitor calls C functions bound here once (`os.x` looked up at run
# time increfs the name "x" and fills the type cache: pages), not the stdlib's Python
# helpers (os.path, os.makedirs, io's text files, signal.signal, json.dumps: each call
# touches their code, constants and globals, in libpython's data or the zygote's heap).


class Options:
    # __slots__ here and below: no instance dict, whose keys' (interned names') reference
    # counts would dirty a page each in every monitor
    __slots__ = ("dir", "max_bytes", "max_files", "name", "oom_files", "root", "run", "runc")

    def __init__(self, argv: list[str]) -> None:
        self.max_bytes = 10 * 1024 * 1024
        self.max_files = 3
        self.oom_files: list[str] = []
        self.run = False  # `runc run -d`: created and started in one runc process
        positional: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--log-max-bytes":
                self.max_bytes = int(argv[i + 1])
                i += 2
            elif arg == "--log-max-files":
                self.max_files = max(1, int(argv[i + 1]))
                i += 2
            elif arg == "--run":
                self.run = True
                i += 1
            elif arg == "--oom-file":
                self.oom_files.append(argv[i + 1])
                i += 2
            else:
                positional.append(arg)
                i += 1
        if len(positional) != 4:
            raise SystemExit("usage: monitor.py DIR RUNC RUNC_ROOT NAME [options]")
        self.dir, self.runc, self.root, self.name = positional


def write_json_atomic(path: str, data: dict[str, object], scratch: str | None = None, *,
                      publish_first: bool = False) -> None:
    write_text_atomic(path, json_object(data), scratch, publish_first=publish_first)


def json_object(record: dict[str, object]) -> str:
    """What json.dumps(record) gives for a flat record of None, bools, ints, floats and
    strings, without the json module: json pulls in re and enum (~15 ms of CPU at a death,
    ~0.4 MiB of the template's heap that every monitor shares a part of)."""
    if _json_string is None:
        import json

        return json.dumps(record)
    return "{" + ", ".join(_json_string(key) + ": " + json_value(value)
                           for key, value in record.items()) + "}"


def json_value(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, (int, float)):
        return repr(value)  # json.dumps writes both by their repr (no inf/nan here)
    raise TypeError(f"not a JSON scalar: {type(value).__name__}")


def write_text_atomic(path: str, text: str, scratch: str | None = None, *,
                      publish_first: bool = False) -> None:
    # A copy of support/atomic.py's idea: this script imports nothing of the project (it
    # starts as `python -I -S`). One writer per file (this monitor), so a fixed name is safe.
    # `scratch`: a folder for the temporary file (same filesystem), see the exit record.
    # `publish_first`: renamed in before the fsync, not after (readers see it whole all
    # the same: the data is written); see the exit record.
    tmp = (scratch + "/." + path.rsplit("/", 1)[-1] if scratch else path) + ".tmp"
    fd = os_open(tmp, NEW_FILE, 0o666)
    try:
        write_all(fd, text.encode())
        if publish_first:
            replace(tmp, path)
        fsync(fd)
    finally:
        close(fd)
    if not publish_first:
        replace(tmp, path)


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os_write(fd, data):]


def json_line(t: float, stream: str, text: str) -> bytes:
    """What json.dumps({"t": t, "s": stream, "l": text}) gives (float repr is json's)."""
    if _json_string is None:
        import json

        return (json.dumps({"t": t, "s": stream, "l": text}) + "\n").encode()
    return f'{{"t": {t!r}, "s": "{stream}", "l": {_json_string(text)}}}\n'.encode()


class RotatingLog:
    __slots__ = ("fd", "max_bytes", "max_files", "path", "size")

    def __init__(self, path: str, max_bytes: int, max_files: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.fd = self._open()
        self.size = lseek(self.fd, 0, SEEK_END)

    def _open(self) -> int:  # unbuffered: each line is written whole, at once
        return os_open(self.path, APPEND_FILE, 0o666)

    def write(self, stream: str, text: str) -> None:
        line = json_line(wall_clock(), stream, text)
        if self.size and self.size + len(line) > self.max_bytes:
            self.rotate()
        write_all(self.fd, line)
        self.size += len(line)

    def rotate(self) -> None:
        close(self.fd)
        for n in range(self.max_files - 1, 0, -1):
            older = self.path + "." + str(n - 1) if n > 1 else self.path
            try:  # noqa: SIM105 - contextlib would be one more import in every monitor
                replace(older, self.path + "." + str(n))
            except FileNotFoundError:
                pass
        if self.max_files == 1:
            unlink(self.path)
        self.fd = self._open()
        self.size = 0


class Pump:
    """Splits one pipe's bytes into lines for the log."""

    __slots__ = ("fd", "log", "pending", "stream")

    def __init__(self, fd: int, stream: str, log: RotatingLog) -> None:
        self.fd = fd
        self.stream = stream
        self.log = log
        self.pending = b""

    def read(self) -> bool:
        """Read once; False at end of file."""
        try:
            data = os_read(self.fd, READ_SIZE)
        except BlockingIOError:
            return True
        if not data:
            self.flush()
            return False
        self.pending += data
        while b"\n" in self.pending or len(self.pending) > MAX_LINE:
            cut = self.pending.find(b"\n")
            if cut < 0 or cut > MAX_LINE:
                piece, self.pending = self.pending[:MAX_LINE], self.pending[MAX_LINE:]
            else:
                piece, self.pending = self.pending[:cut], self.pending[cut + 1 :]
            self.log.write(self.stream, piece.decode("utf-8", "replace"))
        return True

    def flush(self) -> None:
        if self.pending:
            self.log.write(self.stream, self.pending.decode("utf-8", "replace"))
            self.pending = b""


def load_libc() -> object:
    """ctypes' libc with prctl resolved. The zygote calls it before forking: a CDLL made in
    every monitor (a class and function objects each time) cost it ~40 KiB of pages."""
    global _libc
    if _libc is None:
        import ctypes  # only here: the one thing the stdlib cannot do without it

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl  # noqa: B018 - resolved (and cached on the CDLL) now
    return _libc


def set_subreaper() -> None:
    libc: object = load_libc()
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:  # type: ignore[attr-defined]
        import ctypes

        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def ignore_signals() -> None:
    for sig in IGNORED:  # a stray signal must not lose the exit record
        set_handler(sig, _signal.SIG_IGN)


def detach_stdio(opts: Options) -> None:
    null = os_open("/dev/null", O_RDWR)
    err = os_open(opts.dir + "/monitor.err", APPEND_FILE)
    dup2(null, 0)
    dup2(null, 1)
    dup2(err, 2)
    close(null)
    close(err)


def run_create(opts: Options, out_w: int, err_w: int) -> tuple[int, str]:
    """Run `runc create` (or `runc run -d`: the same, and started); return (status, pid
    file path)."""
    pid_file = opts.dir + "/container.pid"
    command = ["run", "--detach"] if opts.run else ["create"]
    argv = [opts.runc, "--root", opts.root, *command,
            "--bundle", opts.dir + "/bundle",
            "--pid-file", pid_file, opts.name]  # fmt: skip
    null = os_open("/dev/null", O_RDONLY)
    actions = [
        (POSIX_SPAWN_DUP2, null, 0),
        (POSIX_SPAWN_DUP2, out_w, 1),
        (POSIX_SPAWN_DUP2, err_w, 2),
    ]
    pid = posix_spawn(opts.runc, argv, {"PATH": SAFE_PATH}, file_actions=actions)
    close(null)
    _, status = waitpid(pid, 0)
    return status, pid_file


def read_file(path: str) -> bytes:
    fd = os_open(path, O_RDONLY)
    try:
        return os_read(fd, 4096)
    finally:
        close(fd)


def read_available(fd: int) -> str:
    set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os_read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def oom_killed(files: list[str]) -> bool:
    for path in files:
        try:
            lines = read_file(path).split(b"\n")
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(b" ")
            try:
                if key == b"oom_kill" and int(value) > 0:
                    return True
            except ValueError:
                break
    return False


def exit_record(status: int, opts: Options) -> dict[str, object]:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        code = 128 + sig
    else:
        sig = None
        code = os.WEXITSTATUS(status)
    return {
        "exit_code": code,
        "signal": sig,
        "finished_at": wall_clock(),
        "oom_killed": oom_killed(opts.oom_files),
    }


def supervise(container_pid: int, pumps: list[Pump]) -> int:
    """Pump logs until the container's init exits; return its wait status."""
    wake_r, wake_w = pipe()
    set_blocking(wake_w, False)
    set_wakeup_fd(wake_w)
    set_handler(_signal.SIGCHLD, lambda *_: None)
    live = {p.fd: p for p in pumps}
    while True:
        while True:  # reap everything re-parented to us; keep the container's status
            try:
                pid, status = waitpid(-1, WNOHANG)
            except ChildProcessError:
                return 0
            if pid == 0:
                break
            if pid == container_pid:
                return status
        ready, _, _ = select([*live, wake_r], [], [], 1.0)
        for fd in ready:
            if fd == wake_r:
                os_read(wake_r, 512)
            elif not live[fd].read():
                del live[fd]


def drain(pumps: list[Pump]) -> None:
    """After init died every other process of its pid namespace is gone too; read what
    is left in the pipes, bounded in case something outside still holds them."""
    deadline = monotonic() + DRAIN_SECONDS
    live = {p.fd: p for p in pumps}
    while live and monotonic() < deadline:
        ready, _, _ = select(list(live), [], [], 0.1)
        for fd in ready:
            if not live[fd].read():
                del live[fd]
    for p in pumps:
        p.flush()


def monitor(opts: Options, sync_w: int) -> int:
    setsid()
    detach_stdio(opts)
    ignore_signals()
    set_subreaper()
    out_r, out_w = pipe()
    err_r, err_w = pipe()
    status, pid_file = run_create(opts, out_w, err_w)
    close(out_w)
    close(err_w)
    if status != 0:
        message = read_available(err_r).strip() or "runc create failed"
        os_write(sync_w, ("error: " + message).encode())
        return 1
    container_pid = int(read_file(pid_file))
    write_text_atomic(opts.dir + "/monitor.pid", str(getpid()))  # valid JSON
    try:  # noqa: SIM105 - contextlib would be one more import in every monitor
        os_write(sync_w, b"ok")
    except OSError:
        pass  # the asking reconcile was killed: the container is up, monitor it all the same
    close(sync_w)
    logs_dir = opts.dir + "/logs"
    try:  # noqa: SIM105 - the container dir exists: no os.makedirs (see "Memory" above)
        mkdir(logs_dir, 0o700)
    except FileExistsError:
        pass
    log = RotatingLog(logs_dir + "/container.log", opts.max_bytes, opts.max_files)
    pumps = [Pump(out_r, "stdout", log), Pump(err_r, "stderr", log)]
    for p in pumps:
        set_blocking(p.fd, False)
    status = supervise(container_pid, pumps)
    # The exit is recorded first (observe and stop wait for it), then the pipes drained;
    # log readers follow until the monitor itself is gone.
    record = exit_record(status, opts)
    # Its temporary file in logs/, which the death watch does not watch: the folder then
    # sees the record arrive whole (one IN_MOVED_TO), and no write of its temporary file.
    # Renamed in before its fsync (1-8 ms here, more when the disk is busy), which is then
    # off the death's path to the loop; a host crash within that fsync can leave the
    # record empty, which observe reads as no record: the monitor-gone (reboot) case.
    write_json_atomic(opts.dir + "/exit.json", record, logs_dir, publish_first=True)
    journal_death(opts, record)
    delete_runtime_state(opts)
    drain(pumps)
    return 0


def delete_runtime_state(opts: Options) -> None:
    """`runc delete` of the dead run (its state dir and cgroup), here while the restart
    backoff runs rather than on the restart's critical path: the driver waits for this
    monitor to be gone before it starts the container again or removes it. A failure
    leaves the state to the driver, which deletes what is still there."""
    argv = [opts.runc, "--root", opts.root, "delete", opts.name]
    null = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
    try:
        pid = os.posix_spawn(opts.runc, argv, {"PATH": SAFE_PATH}, file_actions=actions)
        os.waitpid(pid, 0)
    except OSError:
        pass
    finally:
        os.close(null)


JOURNAL = "events.jsonl"  # support/events.py's FILE and ROTATE_AT (a unit test keeps them so)
JOURNAL_ROTATE_AT = 8 * 1024 * 1024


def journal_death(opts: Options, record: dict[str, object]) -> None:
    """The `died` event (and `oom` when the kernel killed it), as support/events.py's
    append_event writes them (a unit test compares the bytes): written here without the
    project's code, whose imports (json, pathlib: ~20 ms) were either CPU at each death
    or ~1.4 MiB in the template shared by every monitor."""
    state_dir = opts.dir.rstrip("/").rsplit("/", 2)[0]  # <state_dir>/containers/<name>
    attrs = {k: record.get(k) for k in ("exit_code", "signal", "oom_killed")}
    try:
        if record.get("oom_killed"):
            append_event(state_dir, "oom", opts.name, {})
        append_event(state_dir, "died", opts.name, attrs)
    except OSError:
        pass  # the exit record is the source of truth; the journal is for people


def append_event(state_dir: str, kind: str, name: str, attrs: dict[str, object]) -> None:
    path = state_dir + "/" + JOURNAL
    record = {"time": round(wall_clock(), 6), "type": kind, "name": name, **attrs}
    line = (json_object(dict(sorted(record.items()))) + "\n").encode()
    try:
        if os.stat(path).st_size > JOURNAL_ROTATE_AT:
            replace(path, path + ".1")
    except FileNotFoundError:
        pass
    fd = os_open(path, APPEND_FILE, 0o600)
    try:
        os_write(fd, line)  # one write, O_APPEND: never interleaved with another writer's
    finally:
        close(fd)


def main(argv: list[str]) -> int:
    opts = Options(argv)
    sync_r, sync_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(sync_r)
        try:
            code = monitor(opts, sync_w)
        except BaseException as e:  # report anything to the launcher, never a traceback
            try:  # noqa: SIM105 - contextlib would be one more import in every monitor
                os.write(sync_w, ("error: monitor: " + repr(e)).encode())
            except OSError:
                pass
            code = 1
        os._exit(code)
    os.close(sync_w)
    chunks = []
    while True:
        data = os.read(sync_r, 65536)
        if not data:
            break
        chunks.append(data)
    reply = b"".join(chunks).decode("utf-8", "replace")
    if reply == "ok":
        return 0
    sys.stderr.write((reply or "error: monitor exited before runc create finished") + "\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
