"""The zygote's template: the quiet process every monitor is forked from.

Why (docs/native.md "Choosing the monitor"): a forked monitor pays, page by page, for
what it writes and also for what its parent writes after the fork (the parent's write
gives it a new copy; the monitor is left alone with the old one). The serving zygote
writes ~55 pages per request (accept, parse, reply, its select loop), so every monitor
but the last carried ~220 KiB of the zygote's pages. The template is forked once from the
warmed-up zygote and only ever blocks in os.read() for a fork byte and forks: a few
pages per fork.

1. The zygote writes one byte on the command pipe, then sends the request on a
   SOCK_SEQPACKET pair: the monitor's argv (NUL-separated) with the client's connection as
   SCM_RIGHTS. The template forks; the child takes one request (any child any request:
   they are all alike) and runs monitor.monitor() with the connection as its sync pipe.
2. SIGCHLD is ignored in the template, so the kernel reaps its exited monitors.
3. End of file on the command pipe (the zygote retired or was killed): the template exits;
   its monitors carry on.

The zygote forks the template first, before it imports anything it serves with (`socket`,
whose enums pull in `enum`; `json`, with `re`): every page the template holds when it
forks is shared by all its monitors, and each pays PSS for 1/N of it (at N=50 the
zygote's 2.7 MiB of those imports were ~50 KiB per monitor). So this module and
monitor.py use the C modules (`_socket`, `_signal`, `_json`) only.

Stdlib only, like monitor.py and zygote.py.
"""

from __future__ import annotations

import _signal
import _socket
import gc
import os
import sys

import monitor

TEMPLATE_NAME, MONITOR_NAME = b"reconcile-tpl", b"reconcile-mon"  # their comm (ps, pgrep)
MAX_REQUEST = 64 * 1024
FD_SPACE = _socket.CMSG_SPACE(4)  # one descriptor (an int) per request


class Template:
    """The zygote's handle: the template's pid, the command pipe, the request channel."""

    def __init__(self, pid: int, command_w: int, channel: _socket.socket) -> None:
        self.pid, self.command_w, self.channel = pid, command_w, channel

    def fork(self, message: bytes, conn: _socket.socket) -> None:
        """Raises BrokenPipeError when the template is gone (nothing was sent then)."""
        os.write(self.command_w, b"F")
        send_fd(self.channel, message, conn.fileno())

    def close(self) -> None:
        os.close(self.command_w)  # the template reads end of file and exits
        self.channel.close()


def encode(argv: list[str]) -> bytes:
    if not argv or any("\0" in a for a in argv):
        raise ValueError("an empty argv or a NUL byte in it")
    return "\0".join(argv).encode()


def decode(message: bytes) -> list[str]:
    return message.decode().split("\0")


def send_fd(channel: _socket.socket, message: bytes, fd: int) -> None:
    """socket.send_fds of one descriptor (a C int), without socket.py."""
    rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))]
    channel.sendmsg([message], rights)


def set_name(name: bytes) -> None:
    """prctl(PR_SET_NAME) without ctypes: one write, no object made."""
    fd = os.open("/proc/self/comm", os.O_WRONLY)
    try:
        os.write(fd, name)
    finally:
        os.close(fd)


def start_template(*not_ours: int) -> Template:
    command_r, command_w = os.pipe()
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        for fd in (command_w, *not_ours):
            os.close(fd)
        ours.close()
        code = 0
        try:
            set_name(TEMPLATE_NAME)
            run_template(command_r, theirs)
        except BaseException as e:  # to the zygote's stderr (zygote.err), never up the stack
            sys.stderr.write(f"zygote template: {e!r}\n")
            code = 1
        os._exit(code)
    os.close(command_r)
    theirs.close()
    return Template(pid, command_w, ours)


def run_template(command_r: int, channel: _socket.socket) -> None:
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)  # the kernel reaps our monitors
    warm_up()
    read, fork = os.read, os.fork
    while read(command_r, 1):
        try:
            pid = fork()
        except OSError as e:  # answer the request ourselves: no client waits for nothing
            refuse(channel, e)
            continue
        if pid == 0:
            os.close(command_r)
            os._exit(become_monitor(channel))


def take_request(channel: _socket.socket) -> tuple[list[str], int]:
    message, ancillary, _, _ = channel.recvmsg(MAX_REQUEST, FD_SPACE)
    (_, _, data), = ancillary
    return decode(message), int.from_bytes(data[:4], sys.byteorder)


def refuse(channel: _socket.socket, error: OSError) -> None:
    _, conn = take_request(channel)
    try:  # noqa: SIM105 - contextlib would be one more import in the zygote
        os.write(conn, ("error: monitor: fork: " + repr(error)).encode())
    except OSError:
        pass
    os.close(conn)


def warm_up() -> None:
    """What every monitor would load or make: done once here, shared by all of them."""
    monitor.load_libc()
    for _ in range(16):  # quickened and specialized here, not rewritten in every monitor
        monitor.Options(["dir", "runc", "root", "name", "--run", "--log-max-bytes", "1",
                         "--log-max-files", "1", "--oom-file", "a", "--oom-file", "b"])
    gc.collect()
    gc.freeze()  # the children's collector never touches (so never copies) these pages


def become_monitor(channel: _socket.socket) -> int:
    gc.freeze()  # what the template made since: never walked (so never copied) here
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)  # waitpid() for runc and the init
    argv, sync_w = take_request(channel)
    channel.close()
    set_name(MONITOR_NAME)  # a fork keeps the zygote's command line: tell them apart
    os.set_blocking(sync_w, True)
    try:
        opts = monitor.Options(argv)
        code: int = monitor.monitor(opts, sync_w)
        return code
    except BaseException as e:  # reported to the client, never a traceback
        try:  # noqa: SIM105 - the same rule as monitor.main
            os.write(sync_w, ("error: monitor: " + repr(e)).encode())
        except OSError:
            pass
        return 1
