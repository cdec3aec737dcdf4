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

import os
import select
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
MAX_LINE = 16 * 1024  # longer lines are split, like Docker's json-file driver
DRAIN_SECONDS = 2.0
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Options:
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


def write_json_atomic(path: str, data: object) -> None:
    import json  # json pulls in re and enum (~15 ms, ~1 MiB): only once there is output

    write_text_atomic(path, json.dumps(data))


def write_text_atomic(path: str, text: str) -> None:
    # A copy of support/atomic.py's idea: this script imports nothing of the project (it
    # starts as `python -I -S`). One writer per file (this monitor), so a fixed name is safe.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RotatingLog:
    def __init__(self, path: str, max_bytes: int, max_files: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.file = open(path, "ab")  # noqa: SIM115 - kept open across writes
        self.size = self.file.tell()

    def write(self, stream: str, text: str) -> None:
        import json  # cached after the first line; see write_json_atomic

        line = json.dumps({"t": time.time(), "s": stream, "l": text}).encode() + b"\n"
        if self.size and self.size + len(line) > self.max_bytes:
            self.rotate()
        self.file.write(line)
        self.file.flush()
        self.size += len(line)

    def rotate(self) -> None:
        self.file.close()
        for n in range(self.max_files - 1, 0, -1):
            older = self.path + "." + str(n - 1) if n > 1 else self.path
            if os.path.exists(older):
                os.replace(older, self.path + "." + str(n))
        if self.max_files == 1:
            os.unlink(self.path)
        self.file = open(self.path, "ab")  # noqa: SIM115
        self.size = 0


class Pump:
    """Splits one pipe's bytes into lines for the log."""

    def __init__(self, fd: int, stream: str, log: RotatingLog) -> None:
        self.fd = fd
        self.stream = stream
        self.log = log
        self.pending = b""

    def read(self) -> bool:
        """Read once; False at end of file."""
        try:
            data = os.read(self.fd, 65536)
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


def set_subreaper() -> None:
    import ctypes  # only here: the one thing the stdlib cannot do without it

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def detach_stdio(opts: Options) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(os.path.join(opts.dir, "monitor.err"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)


def run_create(opts: Options, out_w: int, err_w: int) -> tuple[int, str]:
    """Run `runc create` (or `runc run -d`: the same, and started); return (status, pid
    file path)."""
    pid_file = os.path.join(opts.dir, "container.pid")
    command = ["run", "--detach"] if opts.run else ["create"]
    argv = [opts.runc, "--root", opts.root, *command,
            "--bundle", os.path.join(opts.dir, "bundle"),
            "--pid-file", pid_file, opts.name]  # fmt: skip
    null = os.open(os.devnull, os.O_RDONLY)
    actions = [
        (os.POSIX_SPAWN_DUP2, null, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    pid = os.posix_spawn(opts.runc, argv, {"PATH": SAFE_PATH}, file_actions=actions)
    os.close(null)
    _, status = os.waitpid(pid, 0)
    return status, pid_file


def read_available(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def oom_killed(files: list[str]) -> bool:
    for path in files:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            continue
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
        "finished_at": time.time(),
        "oom_killed": oom_killed(opts.oom_files),
    }


def supervise(container_pid: int, pumps: list[Pump]) -> int:
    """Pump logs until the container's init exits; return its wait status."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    live = {p.fd: p for p in pumps}
    while True:
        while True:  # reap everything re-parented to us; keep the container's status
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid == 0:
                break
            if pid == container_pid:
                return status
        ready, _, _ = select.select([*live, wake_r], [], [], 1.0)
        for fd in ready:
            if fd == wake_r:
                os.read(wake_r, 512)
            elif not live[fd].read():
                del live[fd]


def drain(pumps: list[Pump]) -> None:
    """After init died every other process of its pid namespace is gone too; read what
    is left in the pipes, bounded in case something outside still holds them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    live = {p.fd: p for p in pumps}
    while live and time.monotonic() < deadline:
        ready, _, _ = select.select(list(live), [], [], 0.1)
        for fd in ready:
            if not live[fd].read():
                del live[fd]
    for p in pumps:
        p.flush()


def monitor(opts: Options, sync_w: int) -> int:
    os.setsid()
    detach_stdio(opts)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)  # a stray signal must not lose the exit record
    set_subreaper()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status, pid_file = run_create(opts, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    if status != 0:
        message = read_available(err_r).strip() or "runc create failed"
        os.write(sync_w, ("error: " + message).encode())
        return 1
    with open(pid_file) as f:
        container_pid = int(f.read().strip())
    write_text_atomic(os.path.join(opts.dir, "monitor.pid"), str(os.getpid()))  # valid JSON
    try:  # noqa: SIM105 - contextlib would be one more import in every monitor
        os.write(sync_w, b"ok")
    except OSError:
        pass  # the asking reconcile was killed: the container is up, monitor it all the same
    os.close(sync_w)
    logs_dir = os.path.join(opts.dir, "logs")
    os.makedirs(logs_dir, mode=0o700, exist_ok=True)
    log = RotatingLog(os.path.join(logs_dir, "container.log"), opts.max_bytes, opts.max_files)
    pumps = [Pump(out_r, "stdout", log), Pump(err_r, "stderr", log)]
    for p in pumps:
        os.set_blocking(p.fd, False)
    status = supervise(container_pid, pumps)
    # The exit is recorded first (observe and stop wait for it), then the pipes drained;
    # log readers follow until the monitor itself is gone.
    record = exit_record(status, opts)
    write_json_atomic(os.path.join(opts.dir, "exit.json"), record)
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


def journal_death(opts: Options, record: dict[str, object]) -> None:
    """The `died` event (and `oom` when the kernel killed it). Imported only now, once the
    container is gone, so the journal code costs no memory while the monitor waits."""
    from pathlib import Path

    # The monitor runs isolated (python -I -S, by path): make its own package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
    from reconciler.support.events import append_event

    state_dir = Path(opts.dir).parent.parent  # <state_dir>/containers/<name>
    attrs = {k: record.get(k) for k in ("exit_code", "signal", "oom_killed")}
    try:
        if record.get("oom_killed"):
            append_event(state_dir, "oom", opts.name)
        append_event(state_dir, "died", opts.name, **attrs)
    except OSError:
        pass  # the exit record is the source of truth; the journal is for people


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
