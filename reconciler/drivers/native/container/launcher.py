"""Asking the monitor zygote (zygote.py) for a container's monitor.

`launch(argv)` sends the monitor's argv over the zygote's unix socket and waits
for the forked monitor's reply: it returns once `runc create` finished, raising
`LaunchError` with runc's message when it failed. No zygote serving (first container, or
the last one retired it, or it was killed): one is started under the lock file, once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent
ZYGOTE = HERE / "zygote.py"
# A root-only folder no container sees (a container has its own mount namespace and /run):
# an abstract socket would be reachable from a `network: host` container's netns.
# Short, whatever the state dir's path (a socket path has at most 107 bytes).
SOCKET_DIR = Path("/run/reconcile")
REPLY_TIMEOUT = 60.0
START_TIMEOUT = 30.0


class LaunchError(Exception):
    """The monitor could not be started or `runc create` failed: the message says why."""


class NotServing(Exception):
    """Nothing was done: no zygote answered before it took the request."""


def code_version() -> str:
    """Changes with the code a zygote runs, so an upgrade never talks to an old zygote."""
    parts = []
    for path in (ZYGOTE, HERE / "template.py", HERE / "monitor.py"):
        st = path.stat()
        parts.append(f"{st.st_mtime_ns:x}{st.st_size:x}")
    return "-".join(parts)


class Launcher:
    def __init__(self, instance: str, lock_path: Path, err_path: Path) -> None:
        self.lock_path, self.err_path = lock_path, err_path
        self.path = str(SOCKET_DIR / f"monitor-{instance}-{code_version()}.sock")

    def launch(self, argv: list[str]) -> None:
        request = (json.dumps(argv) + "\n").encode()
        try:
            reply = self._ask(request)
        except NotServing:
            self._ensure_zygote()
            reply = self._ask(request)  # outside the lock: creates run in parallel
        if reply != "ok":
            raise LaunchError(reply.removeprefix("error: ") or "the monitor exited silently")

    def _ask(self, request: bytes) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(self.path)
                sock.sendall(request)
                sock.settimeout(REPLY_TIMEOUT)
                forked = sock.recv(1)
            except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError,
                    BrokenPipeError) as e:
                raise NotServing(str(e)) from e
            if forked != b"F":
                raise NotServing("the zygote closed the connection")
            return _read_all(sock).decode("utf-8", "replace")

    def _ensure_zygote(self) -> None:
        """Under the lock: another thread or process may have started one meanwhile."""
        with self._locked():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(self.path)
                    return  # serving now; the zygote drops a connection with no request
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            self._start_zygote()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _start_zygote(self) -> None:
        SOCKET_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        argv = [sys.executable, "-I", "-S", str(ZYGOTE), self.path, str(self.lock_path)]
        with open(self.err_path, "ab") as err:
            try:
                done = subprocess.run(
                    argv,
                    env={k: v for k, v in os.environ.items() if k != "RECONCILE_AGE_KEY"},
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                    timeout=START_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as e:
                raise LaunchError("the monitor zygote did not start in time") from e
        if done.returncode != 0:
            raise LaunchError(f"the monitor zygote did not start (see {self.err_path})")


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
