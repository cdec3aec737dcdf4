"""`network: none` without libnetwork: a loopback-only container the engine sets up no
network sandbox for, on an engine that sees this process's files.

For `NetworkMode: none` Docker 20.10 still builds a libnetwork sandbox: every start runs
an OCI prestart hook that execs the whole dockerd binary (`libnetwork-setkey`), and the
sandbox writes the container's /etc/hosts and /etc/resolv.conf. That is two thirds of the
engine's CPU for such a container (~100 of ~150 ms, 10 started at once on 2 cores: see
docs/docker.md). With `NetworkDisabled` the engine builds none: runc makes the fresh
network namespace and brings its loopback up itself. The two files are then the driver's
to give, as the native driver does (drivers/etcfiles.py): written to
`<state-dir>/docker/etc/<stack>/<token>/` and bound in, read-write as Docker's own
(read-only with `read_only`). The token is the container's label `io.reconcile.etc`.

A bind names a path on the engine's side, so this needs an engine that shares this
process's mount namespace and root (a unix socket peer visible in /proc). Any other engine
(TCP, rootless, another namespace) gets `NetworkMode: none` the usual way.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.drivers import etcfiles
from reconciler.model.desired import ContainerSpec
from reconciler.support import atomic
from reconciler.support.trees import remove_tree

FILES = ("hosts", "resolv.conf")
# A token folder no container of ours names is removed by observe once it is this old: a
# younger one may belong to a create another process has not sent yet.
ORPHAN_AGE = 60.0


def shares_files(pid: int | None) -> bool:
    """Whether the process `pid` (the engine) resolves paths as this process does: the
    same mount namespace and the same root."""
    if pid is None:
        return False
    try:
        pairs = [(os.stat(f"/proc/{pid}/ns/mnt"), os.stat("/proc/self/ns/mnt")),
                 (os.stat(f"/proc/{pid}/root"), os.stat("/"))]
    except OSError:  # gone, or not ours to look at
        return False
    return all((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) for a, b in pairs)


def wanted(spec: ContainerSpec) -> bool:
    return spec.network == "none"


class EtcFolders:
    """`<root>/etc/<stack>/<token>/{hosts,resolv.conf}`: one folder per container."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "etc"

    def path(self, stack: str, token: str) -> Path:
        return self.folder / stack / token

    def make(self, spec: ContainerSpec) -> str:
        """A new folder with the files for `spec`; its token."""
        token = os.urandom(8).hex()
        self.write(spec.stack, token, spec.hostname or spec.name, spec.dns)
        return token

    def write(self, stack: str, token: str, hostname: str, dns: Sequence[str]) -> None:
        folder = self.path(stack, token)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        contents = {"hosts": etcfiles.hosts_file(hostname),
                    "resolv.conf": etcfiles.resolv_conf(etcfiles.read_host_resolv(), tuple(dns),
                                                       "none")}
        for name, text in contents.items():
            # Not fsynced: ensure() rewrites a file a crash left missing or empty.
            atomic.write_bytes(folder / name, text.encode(), mode=0o644, durable=False)

    def ensure(self, stack: str, token: str, hostname: str, dns: Sequence[str]) -> None:
        """Before a start: the files again if they are gone (the state dir was cleared)."""
        folder = self.path(stack, token)
        for name in FILES:
            try:
                if (folder / name).stat().st_size > 0:
                    continue
            except OSError:
                pass
            self.write(stack, token, hostname, dns)
            return

    def remove(self, stack: str, token: str) -> None:
        """The folder, and the stack's folder once empty. A failure is left to sweep()."""
        with contextlib.suppress(OSError):
            remove_tree(self.path(stack, token))
            (self.folder / stack).rmdir()  # ENOTEMPTY while the stack has others

    def sweep(self, stacks: set[str] | None, live: set[tuple[str, str]]) -> None:
        """Folders of `stacks` (None: all) that no container in `live` (stack, token)
        names, once ORPHAN_AGE old: a create that failed half-way, or a container removed
        behind our back."""
        try:
            names = stacks if stacks is not None else set(os.listdir(self.folder))
        except FileNotFoundError:
            return
        now = time.time()
        for stack in names:
            try:
                tokens = os.listdir(self.folder / stack)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for token in tokens:
                path = self.path(stack, token)
                try:
                    old = now - path.stat(follow_symlinks=False).st_mtime > ORPHAN_AGE
                except OSError:
                    continue
                if old and (stack, token) not in live:
                    self.remove(stack, token)


def create_fields(spec: ContainerSpec, folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the create body gets for `spec` with its files in `folder`: the top-level
    fields, and the binds to add to HostConfig.Mounts (none where the spec mounts its own
    file, as in Docker)."""
    own = {os.path.normpath(m.target) for m in spec.mounts}
    mounts = [{"Type": "bind", "Source": str(folder / name), "Target": f"/etc/{name}",
               "ReadOnly": bool(spec.read_only)}
              for name in FILES if f"/etc/{name}" not in own]
    return {"NetworkDisabled": True}, mounts
