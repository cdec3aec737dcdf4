"""The native driver's StepRunner for Dockerfile builds: a RUN step is a runc container
on an overlay of the image's layers, with the same defaults as any container (the
default seccomp profile, Docker's capability set, masked /proc paths, no_new_privs as the
security options say) and a private network namespace with only loopback unless the
build asks for the network (then the host's, as `docker build --network host`).

Mount points runc needs (/proc, /dev, /sys, /etc/hosts, ...) come from an "init" layer
under the upper directory, so they do not end up in the step's layer (Docker's init layer).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from reconciler.drivers import etcfiles
from reconciler.drivers.images.dockerfile.runner import RunJob, RunOutcome
from reconciler.drivers.native.container import rootfs, seccomp, security, users
from reconciler.drivers.native.container.bundle import BundleInputs, oci_config
from reconciler.drivers.native.container.runtime import Runc
from reconciler.model.desired import ContainerSpec, ImageSource
from reconciler.model.errors import ReconcileError
from reconciler.support import atomic, rlimits
from reconciler.support.pids import process_alive
from reconciler.support.trees import remove_tree

_INIT_DIRS = ("proc", "dev", "sys", "etc")
_INIT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
HOSTNAME = "buildkitsandbox"  # the name RUN steps see in Docker too


class RuncStepRunner:
    def __init__(self, runc: Runc, work_root: Path) -> None:
        self.runc = runc
        self.work_root = work_root
        self._clean_stale()

    def _clean_stale(self) -> None:
        """What a killed build left: its container, its mounts, its work folder."""
        if not self.work_root.is_dir():
            return
        for entry in self.work_root.iterdir():
            owner = entry.name.split("-", 1)[0]
            if owner.isdigit() and process_alive(int(owner)):
                continue
            subprocess.run([*self.runc.base_argv(), "delete", "--force", entry.name[:40]],
                           capture_output=True, check=False)  # fmt: skip
            for mounted in (entry / "rootfs", entry / "root"):
                if mounted.exists():
                    rootfs.unmount(mounted)
            remove_tree(entry)

    def _scratch(self, kind: str) -> Path:
        self.work_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.work_root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}-{kind}"
        path.mkdir(mode=0o700)
        return path

    def resolve_user(self, user: str, layers: Sequence[Path]) -> tuple[int, int]:
        resolved = users.resolve_user(user, [str(p) for p in reversed(layers)])
        return resolved.uid, resolved.gid

    @contextmanager
    def view(self, layers: Sequence[Path]) -> Iterator[Path]:
        scratch = self._scratch("view")
        target = scratch / "root"
        target.mkdir(mode=0o755)
        try:
            rootfs.mount_readonly_overlay(layers, target)
            yield target
        finally:
            rootfs.unmount(target)
            remove_tree(scratch)

    def run(self, job: RunJob) -> RunOutcome:
        scratch = self._scratch("run")
        cid = scratch.name[:40]
        root = scratch / "rootfs"
        try:
            init = _init_layer(scratch / "init")
            root.mkdir(mode=0o755)
            rootfs.mount_overlay([*job.layers, init], job.upper, job.work, root)
            config = oci_config(_inputs(job, root, _etc_files(scratch / "etc", job.network)))
            atomic.write_json(scratch / "config.json", config)
            done = subprocess.run([*self.runc.base_argv(), "run", "--bundle", str(scratch), cid],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, check=False)  # fmt: skip
            return RunOutcome(done.returncode, done.stdout)
        finally:
            subprocess.run([*self.runc.base_argv(), "delete", "--force", cid],
                           capture_output=True, check=False)  # fmt: skip
            if root.exists():
                rootfs.unmount(root)
            remove_tree(scratch)


def _init_layer(path: Path) -> Path:
    for name in ("", *_INIT_DIRS):
        (path / name).mkdir(mode=0o755, exist_ok=True)
    for name in _INIT_FILES:
        (path / name).touch(mode=0o644)
    return path


def _etc_files(folder: Path, network: bool) -> dict[str, str]:
    folder.mkdir(mode=0o755)
    try:
        host_resolv = Path("/etc/resolv.conf").read_text(encoding="utf-8")
    except OSError:
        host_resolv = ""
    contents = {"hosts": etcfiles.hosts_file(HOSTNAME),
                "hostname": etcfiles.hostname_file(HOSTNAME),
                "resolv.conf": etcfiles.resolv_conf(host_resolv, (),
                                                    "host" if network else "private")}  # fmt: skip
    mapping = {}
    for name, text in contents.items():
        atomic.write_text(folder / name, text, mode=0o644)
        mapping[f"/etc/{name}"] = str(folder / name)
    return mapping


def _inputs(job: RunJob, root: Path, etc_files: dict[str, str]) -> BundleInputs:
    spec = ContainerSpec(
        stack="build", key="run", name=HOSTNAME, replica=1,
        image=ImageSource(key="build", kind="build", identity=""),
        entrypoint=job.argv, command=(), hostname=HOSTNAME,
        network="host" if job.network else "private",
    )  # fmt: skip
    try:
        user = users.resolve_user(job.user or None, [str(p) for p in reversed(job.layers)])
    except ReconcileError as error:
        raise ReconcileError(f"USER {job.user}: {error}") from None
    profile = seccomp.profile_for(security.parse_security_opt(()))
    return BundleInputs(
        spec=spec, image_config={"Env": list(job.env), "WorkingDir": job.cwd},
        rootfs=str(root), etc_files=etc_files, uid=user.uid, gid=user.gid,
        additional_gids=user.additional_gids,
        host_nofile_hard=rlimits.host_hard_limit("nofile") or 1048576, seccomp=profile,
    )  # fmt: skip
