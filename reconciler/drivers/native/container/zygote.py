"""The monitor zygote: one long-lived interpreter that forks each container's monitor.

Run as ``python -I -S zygote.py <socket path> <lock path>`` (stdlib only, like monitor.py,
whose code the forked children run). Why a zygote (docs/native.md "Choosing the monitor"):
a fresh `python monitor.py` per container costs ~50 ms of interpreter start and ~4.6 MiB
PSS; a child forked from a warmed-up, gc-frozen interpreter starts in about a millisecond
and shares the interpreter's pages copy-on-write, so each monitor costs only the pages it
dirties.

1. The launched process forks; the child setsid()s, binds the socket (0600, in a root-only
   folder no container sees; the name carries the state dir's id and the code's version,
   so an upgraded monitor gets a new zygote), tells the
   launcher "ready" and serves; the launcher exits, so the zygote is parented to init
   (or the nearest subreaper), never to reconcile: a `kill -9` of reconcile leaves it.
2. Before anything else (its serving imports, the listener) it forks the template
   (template.py): the quiet process every monitor is forked from, so that what the zygote
   writes or imports while serving is not charged to every monitor. (So this module too
   imports only what the template needs: `_socket`, `_signal`, not `socket`, `signal`.)
   Per connection (peer uid checked: only root or our own uid) it reads one request, the
   monitor's argv as JSON, writes b"F" (forked: the request is being acted on, so the
   client must not retry it) and hands the request and the connection to the
   template, whose child runs monitor.monitor() with the connection as its sync pipe,
   exactly as a monitor started by `python monitor.py` would: the reply is "ok" or
   "error: ..." and the child lives on as the container's monitor.
3. Once the template has no monitor left and no request came for IDLE seconds it removes
   and closes the socket (under the lock, so no client is starting a new zygote
   meanwhile) and exits; the template follows: no zygote outlives the last container.

A killed zygote (or template) loses nothing: the monitors are re-parented and carry on;
the next create starts a new zygote.
"""

from __future__ import annotations

import _signal
import _socket
import gc
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I: not added by default
import monitor  # after the path above
import template

ZYGOTE_NAME = b"reconcile-zyg"  # the comm of each (ps, pgrep; tests find them by it)
TEMPLATE_NAME, MONITOR_NAME = template.TEMPLATE_NAME, template.MONITOR_NAME
IDLE = 5.0  # seconds without a child or a request before the zygote exits
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 64 * 1024


def allowed_peer(conn: _socket.socket) -> bool:
    creds = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # 3 C ints
    uid = int.from_bytes(creds[4:8], sys.byteorder)  # struct ucred: pid, uid, gid
    return uid in (0, os.getuid())


def read_request(conn: _socket.socket) -> list[str] | None:
    import json

    conn.settimeout(REQUEST_TIMEOUT)
    data = b""
    while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    argv = json.loads(data)
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    return argv


def serve_one(listener: _socket.socket, tpl: template.Template) -> bool:
    """One request; nothing a client does (or its death mid-request) ends the zygote.
    False when the template is gone: the zygote must retire (a new one serves)."""
    try:
        fd, _ = listener._accept()  # type: ignore[attr-defined]  # socket.accept(), no socket.py
        conn = _socket.socket(fileno=fd)
    except OSError:
        return True
    try:
        try:
            if not allowed_peer(conn):
                return True
            argv = read_request(conn)
            if argv is None:
                return True
            message = template.encode(argv)
            conn.sendall(b"F")  # before the request is handed over: the reply comes after
            tpl.fork(message, conn)
        except (OSError, ValueError) as e:
            if isinstance(e, BrokenPipeError) and template_exited(tpl.pid):
                return False  # its pipe broke, not the client's
            sys.stderr.write(f"zygote: request dropped: {e!r}\n")
    finally:
        conn.close()
    return True


def template_exited(pid: int) -> bool:
    """Reap the template (our only child) if it exited."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def has_children(pid: int) -> bool:
    """Monitors alive (the template's children; the kernel reaps them when they exit)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return bool(f.read().split())
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: look at every parent
        return any(_parent(entry) == pid for entry in os.listdir("/proc") if entry.isdigit())


def _parent(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def try_retire(listener: _socket.socket, path: str, lock_path: str, force: bool = False) -> bool:
    """Exit when idle: under the lock no client is starting another zygote; a request
    already queued on the socket keeps us serving (unless `force`: the template is gone,
    and the queued clients see a refused connection and start a new zygote)."""
    import fcntl

    try:
        lock = open(lock_path, "a")  # noqa: SIM115 - closed below, on every path
    except OSError:  # the state dir is gone (removed under us): no client can take its
        lock = None  # lock and start a zygote there meanwhile, so retire without it
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        ready, _, _ = select.select([listener], [], [], 0)
        if ready and not force:
            return False
        try:  # noqa: SIM105 - contextlib would be one more import in the zygote
            os.unlink(path)  # ours: another zygote binds this path only under the lock
        except FileNotFoundError:
            pass
        listener.close()
        return True
    finally:
        if lock is not None:
            lock.close()


def serve(listener: _socket.socket, path: str, lock_path: str, tpl: template.Template) -> None:
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)  # the template's death wakes us
    listen_fd = listener.fileno()
    idle_since = time.monotonic()
    while True:
        if template_exited(tpl.pid):
            try_retire(listener, path, lock_path, force=True)
            return
        if has_children(tpl.pid):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= IDLE and try_retire(listener, path, lock_path):
            tpl.close()
            return
        ready, _, _ = select.select([listen_fd, wake_r], [], [], 1.0)
        if wake_r in ready:
            try:  # noqa: SIM105 - contextlib would be one more import in the zygote
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
        if listen_fd in ready:
            if not serve_one(listener, tpl):
                try_retire(listener, path, lock_path, force=True)
                return
            idle_since = time.monotonic()


def start(path: str, lock_path: str, ready_w: int) -> None:
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    os.close(null)  # stderr stays: the launcher points it at zygote.err
    for sig in monitor.IGNORED:
        _signal.signal(sig, _signal.SIG_IGN)  # like a monitor: only SIGKILL ends it
    template.set_name(ZYGOTE_NAME)
    # First: the template is forked from this interpreter as it is now, with none of the
    # serving imports below and none of the listener's descriptors.
    gc.freeze()  # here too: a collection never walks (so never copies) the shared pages
    tpl = template.start_template(ready_w)
    import json  # noqa: F401 - read_request's, here rather than at the first request

    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    if os.path.lexists(path):
        os.unlink(path)  # stale (a killed zygote's): the launcher holds the lock, none answered
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(128)
    os.write(ready_w, b"ready")
    os.close(ready_w)
    serve(listener, path, lock_path, tpl)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: zygote.py SOCKET LOCK")
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.close(ready_r)
        code = 0
        try:
            start(argv[0], argv[1], ready_w)
        except BaseException as e:  # told to the launcher
            try:  # noqa: SIM105
                os.write(ready_w, ("error: zygote: " + repr(e)).encode())
            except OSError:
                pass
            code = 1
        os._exit(code)
    os.close(ready_w)
    reply = os.read(ready_r, 65536).decode("utf-8", "replace")
    if reply == "ready":
        return 0
    sys.stderr.write((reply or "error: zygote exited before it was ready") + "\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
