"""A thin wrapper over the runc command line (`runc --root <state_dir>/runc ...`).

Failures of runc (non-zero exit, missing binary, timeout) become reconciler.errors types
here, naming the container; nothing of subprocess leaks out. `runc run -d` is not here:
the per-container monitor runs it, because the monitor must be the parent that holds the
container's stdio (see monitor.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from reconciler.model.errors import DriverError, NotFound, RuntimeMissing
from reconciler.model.records import record

DEFAULT_TIMEOUT = 60.0


@record(frozen=True)
class RuncState:
    """What `runc state` reports of a container."""
    id: str
    pid: int
    status: str  # created | running | pausing | paused | stopped
    bundle: str


class Runc:
    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root

    def base_argv(self) -> list[str]:
        return [self.binary, "--root", str(self.root)]

    def _run(
        self, name: str, args: Sequence[str], timeout: float = DEFAULT_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        argv = [*self.base_argv(), *args]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as e:
            raise RuntimeMissing(f"OCI runtime not found: {self.binary}") from e
        except subprocess.TimeoutExpired as e:
            raise DriverError(name, f"runc {args[0]} timed out after {timeout:g}s") from e
        if done.returncode != 0:
            message = _runc_message(done.stderr) or f"exit status {done.returncode}"
            if "does not exist" in message or "not exist" in message:
                raise NotFound(name, f"runc {args[0]}: {message}")
            raise DriverError(name, f"runc {args[0]}: {message}")
        return done

    def has_state(self, name: str) -> bool:
        """runc keeps a container's state in <root>/<id>/: none there, nothing to delete
        (no process to ask)."""
        return (self.root / name).exists()

    def start(self, name: str) -> None:
        self._run(name, ["start", name])

    def state(self, name: str) -> RuncState:
        done = self._run(name, ["state", name])
        return _parse_state(json.loads(done.stdout))

    def list_states(self) -> dict[str, RuncState]:
        """Every container under this root, in one call (observe must stay fast)."""
        if not self.root.is_dir():
            return {}
        done = self._run("runc", ["list", "--format", "json"])
        entries = json.loads(done.stdout or "null") or []
        states = (_parse_state(e) for e in entries)
        return {s.id: s for s in states}

    def kill(self, name: str, signal: str, all_processes: bool = False) -> None:
        args = ["kill", *(["--all"] if all_processes else []), name, signal]
        self._run(name, args)

    def delete(self, name: str, force: bool = True) -> None:
        self._run(name, ["delete", *(["--force"] if force else []), name])

    def pause(self, name: str) -> None:
        self._run(name, ["pause", name])

    def resume(self, name: str) -> None:
        self._run(name, ["resume", name])

    def exec_argv(
        self,
        name: str,
        argv: Sequence[str],
        tty: bool = False,
        env: Sequence[tuple[str, str]] = (),
        user: str | None = None,
        cwd: str | None = None,
    ) -> list[str]:
        """The command line of `runc exec`; the driver runs it with the caller's stdio so
        that output and the exit status pass straight through."""
        args = [*self.base_argv(), "exec"]
        if tty:
            args.append("--tty")
        for key, value in env:
            args += ["--env", f"{key}={value}"]
        if user:
            args += ["--user", user]
        if cwd:
            args += ["--cwd", cwd]
        return [*args, name, *argv]


def _parse_state(entry: dict[str, object]) -> RuncState:
    pid = entry.get("pid")
    return RuncState(
        id=str(entry.get("id", "")),
        pid=pid if isinstance(pid, int) else 0,
        status=str(entry.get("status", "")),
        bundle=str(entry.get("bundle", "")),
    )


def _runc_message(stderr: str) -> str:
    """runc prints logrus lines (`time=... level=error msg="..."`) or bare text; keep the
    last meaningful line, it carries the cause."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    marker = 'msg="'
    if marker in last:
        last = last.split(marker, 1)[1].rsplit('"', 1)[0]
    return last
