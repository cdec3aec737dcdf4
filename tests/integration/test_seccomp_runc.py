"""The generated config.json runs under the real runc: the default seccomp profile lets a
busybox shell work and stops namespace creation; limits reach the cgroup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.native.container import seccomp
from reconciler.drivers.native.container.bundle import BundleInputs, ResolvedMount, oci_config
from reconciler.model.desired import ContainerSpec, ImageSource, Limits
from reconciler.support.rlimits import host_hard_limit
from tests import requirements

pytestmark = pytest.mark.integration

RUNC = shutil.which("runc")
BUSYBOX = shutil.which("busybox")
IMAGE = ImageSource(key="busybox", kind="oci", identity="test")
RunFn = Callable[..., subprocess.CompletedProcess[str]]


def _require_host() -> None:
    requirements.need_root("running runc")
    requirements.need(RUNC and BUSYBOX, "needs runc and busybox (runc, busybox-static)")


@pytest.fixture
def run_container(tmp_path: Path) -> Iterator[RunFn]:
    """Runs one command in a fresh busybox bundle; always deletes what it made."""
    _require_host()
    assert RUNC and BUSYBOX
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for directory in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / directory).mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in ("sh", "echo", "cat", "id", "unshare", "ls"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "usr").mkdir()
    (rootfs / "lib").symlink_to("usr/lib")  # glibc programs from a read-only /usr bind
    (rootfs / "lib64").symlink_to("usr/lib64")
    state_root = tmp_path / "runc-state"
    created: list[str] = []

    def run(
        argv: list[str],
        profile: dict[str, Any] | None,
        mounts: tuple[ResolvedMount, ...] = (),
        **spec: Any,
    ) -> Any:
        container_id = f"reconcile-itest-{uuid.uuid4().hex[:12]}"
        created.append(container_id)
        base = ContainerSpec(stack="itest", key="c", name=container_id, replica=1, image=IMAGE)
        inputs = BundleInputs(
            spec=ContainerSpec(**{**base.__dict__, "command": tuple(argv), **spec}),
            image_config={"Env": ["PATH=/bin"]},
            rootfs=str(rootfs),
            mounts=mounts,
            cgroups_path=f"/{container_id}",
            host_nofile_hard=host_hard_limit("nofile") or 1048576,
            seccomp=profile,
        )
        bundle = tmp_path / container_id
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(oci_config(inputs)))
        command = [RUNC, "--root", str(state_root), "run", "--bundle", str(bundle), container_id]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    yield run
    for container_id in created:
        subprocess.run([RUNC, "--root", str(state_root), "delete", "-f", container_id],
                       capture_output=True, check=False)  # fmt: skip


def test_busybox_shell_runs_under_the_default_profile(run_container: RunFn) -> None:
    script = "echo ok; ls / > /dev/null && id -u; cat /proc/self/status | grep -c Seccomp:.2"
    result = run_container(["sh", "-c", script], seccomp.default_profile())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "0", "1"]


def test_default_profile_blocks_namespace_creation(run_container: RunFn) -> None:
    confined = run_container(["unshare", "-U", "echo", "escaped"], seccomp.default_profile())
    assert confined.returncode != 0
    assert "escaped" not in confined.stdout
    assert "Operation not permitted" in confined.stderr


def test_unconfined_has_no_filter(run_container: RunFn) -> None:
    result = run_container(["sh", "-c", "grep Seccomp: /proc/self/status"], None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Seccomp:", "0"]


def test_memory_and_pids_limits_reach_the_cgroup(run_container: RunFn) -> None:
    if os.path.isfile("/sys/fs/cgroup/cgroup.controllers"):  # v2: one unified hierarchy
        # no cgroup namespace: the container sees the host's tree; find its own cgroup
        script = 'd=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $d/memory.max $d/pids.max'
    else:
        script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    limits = Limits(memory=64 * 2**20, pids=50)
    result = run_container(["sh", "-c", script], seccomp.default_profile(), limits=limits)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(64 * 2**20), "50"]


def test_namespace_creation_works_without_the_profile(run_container: RunFn) -> None:
    """The contrast that proves the refusal above comes from seccomp, not a missing cap."""
    result = run_container(["unshare", "-U", "echo", "escaped"], None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "escaped"


def test_glibc_threads_work_because_clone3_falls_back_to_clone(run_container: RunFn) -> None:
    """glibc >= 2.34 tries clone3 for every thread; the profile answers ENOSYS and glibc
    retries with clone, whose flags the profile can inspect."""
    python = "/usr/bin/python3"  # Debian's, which python3-venv (an install-deps package) brings
    code = (
        "import _thread, time; done = []; "
        "_thread.start_new_thread(done.append, ('thread',)); time.sleep(0.3); print(*done)"
    )
    host_usr = ResolvedMount("bind", "/usr", "/usr", read_only=True)
    result = run_container([python, "-S", "-c", code], seccomp.default_profile(), (host_usr,))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "thread"
