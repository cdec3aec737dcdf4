"""NativeDriver on the real kernel with the real runc: lifecycle, monitor, logs, limits."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from reconciler.drivers.base import ExecRequest
from reconciler.drivers.native.container import rootfs
from reconciler.drivers.native.driver import NativeDriver
from reconciler.model.desired import Limits, Mount, VolumeSpec
from reconciler.model.errors import DriverError, NotFound
from tests.integration import native_helpers
from tests.integration.native_helpers import NativeHarness, monitor_rss_kib, wait_for

pytestmark = pytest.mark.integration

# Fixtures shared with other native test files live in native_helpers.
busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native

SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]


def test_create_start_observe_running(native: NativeHarness) -> None:
    spec = native.spec("web", SLEEPER)
    native.driver.create(spec)
    created = native.observed(spec.name)
    assert created.state == "created"
    native.driver.start(spec.name)
    seen = native.observed(spec.name)
    assert seen.state == "running"
    assert seen.pid and Path(f"/proc/{seen.pid}").exists()
    assert seen.config_hash == spec.config_hash
    assert seen.key == "web" and seen.stack == native.stack
    assert seen.image_digest.startswith("sha256:")
    assert seen.recorded_spec["command"] == SLEEPER
    assert seen.started_at and seen.created_at and seen.started_at >= seen.created_at
    assert native.driver.observe(frozenset({"other-stack"})).containers == ()


def test_logs_captured_with_streams(native: NativeHarness) -> None:
    spec = native.run("echo", ["sh", "-c", "echo hello; echo oops >&2"])
    native.exit_record(spec.name)
    lines = list(native.driver.logs(spec.name))
    assert [(line.stream, line.text) for line in lines] == [("stdout", "hello"), ("stderr", "oops")]
    assert [line.text for line in native.driver.logs(spec.name, tail=1)] == ["oops"]


def test_logs_rotate_past_size_limit(native: NativeHarness) -> None:
    driver = NativeDriver(native.driver.layout.root, log_max_bytes=4096, log_max_files=3)
    native.driver = driver
    script = (
        "echo first; i=0; while [ $i -lt 400 ]; do echo line-$i-padding-padding; i=$((i+1)); done"
    )
    spec = native.run("chatty", ["sh", "-c", script])
    native.exit_record(spec.name)
    logs_dir = driver.layout.container(spec.name).logs
    files = sorted(p.name for p in logs_dir.iterdir())
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all((logs_dir / f).stat().st_size <= 4096 for f in files)
    texts = [line.text for line in driver.logs(spec.name)]
    assert "first" not in texts  # rotated away
    assert texts[-1] == "line-399-padding-padding"
    numbers = [int(t.split("-")[1]) for t in texts]
    assert numbers == list(range(numbers[0], 400))  # oldest file first, nothing lost between


def test_exit_code_recorded_while_no_reconcile_runs(native: NativeHarness) -> None:
    spec = native.run("exits", ["sh", "-c", "sleep 0.5; exit 3"])
    monitor_pid = json.loads(native.driver.layout.container(spec.name).monitor_pid.read_text())
    assert _parent_of(monitor_pid) != os.getpid()  # detached, not our child
    state_dir = native.driver.layout.root
    del native.driver  # no reconcile code runs while the container exits
    exit_file = state_dir / "containers" / spec.name / "exit.json"
    wait_for(exit_file.exists, 10, "exit.json")
    fresh = NativeDriver(state_dir)
    native.driver = fresh
    seen = native.observed(spec.name)
    assert (seen.state, seen.exit_code, seen.oom_killed) == ("exited", 3, False)
    assert seen.finished_at and seen.finished_at >= seen.started_at


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_kill_9_behind_our_back_is_seen_as_exited(native: NativeHarness) -> None:
    spec = native.run("victim", SLEEPER)
    pid = native.observed(spec.name).pid
    os.kill(pid, signal.SIGKILL)
    seen = native.wait_state(spec.name, "exited")
    assert seen.exit_code == 137


def test_limits_visible_in_cgroup_files(native: NativeHarness) -> None:
    limits = Limits(memory=64 * 2**20, memory_swap=128 * 2**20, cpus=0.5, cpu_shares=512,
                    cpuset="0", pids=50)  # fmt: skip
    spec = native.run("limited", SLEEPER, limits=limits)
    cg = native.driver.cgroups

    def read(controller: str, file: str) -> str:
        directory = cg.controller_dir(controller, spec.name)
        assert directory is not None
        return (directory / file).read_text().strip()

    if cg.is_v2:
        assert read("memory", "memory.max") == str(64 * 2**20)
        assert read("cpu", "cpu.max") == "50000 100000"
        assert read("pids", "pids.max") == "50"
        assert read("cpuset", "cpuset.cpus") == "0"
        return
    assert read("memory", "memory.limit_in_bytes") == str(64 * 2**20)
    if (cg.controller_dir("memory", spec.name) / "memory.memsw.limit_in_bytes").exists():
        assert read("memory", "memory.memsw.limit_in_bytes") == str(128 * 2**20)
    assert read("cpu", "cpu.cfs_quota_us") == "50000"
    assert read("cpu", "cpu.cfs_period_us") == "100000"
    assert read("cpu", "cpu.shares") == "512"
    assert read("cpuset", "cpuset.cpus") == "0"
    assert read("pids", "pids.max") == "50"
    stats = native.driver.stats(spec.name)
    assert stats.memory_limit == 64 * 2**20 and stats.pids >= 1


def test_oom_killed_is_reported(native: NativeHarness) -> None:
    # dd's 64 MiB block buffer is filled from /dev/zero: it must be resident, over 8 MiB.
    limits = Limits(memory=8 * 2**20, memory_swap=8 * 2**20)
    spec = native.run("hog", ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                      limits=limits)  # fmt: skip
    record = native.exit_record(spec.name)
    assert record["oom_killed"] is True
    seen = native.observed(spec.name)
    assert (seen.state, seen.oom_killed, seen.exit_code) == ("exited", True, 137)


def test_exec_passes_exit_status_env_user_cwd(native: NativeHarness) -> None:
    spec = native.run("shell", SLEEPER)
    run = native.driver.exec
    assert run(spec.name, ExecRequest(argv=["sh", "-c", "exit 7"])) == 7
    check_env = ExecRequest(argv=["sh", "-c", 'test "$FOO" = bar && test "$(pwd)" = /tmp'],
                            env=[("FOO", "bar")], workdir="/tmp")  # fmt: skip
    assert run(spec.name, check_env) == 0
    as_nobody = ExecRequest(argv=["sh", "-c", 'test "$(id -u)" = 65534'], user="nobody")
    assert run(spec.name, as_nobody) == 0


def test_pause_freezes_and_unpause_thaws(native: NativeHarness) -> None:
    spec = native.run("frozen", SLEEPER)
    cg = native.driver.cgroups
    native.driver.pause(spec.name)
    assert cg.freezer_state(spec.name) == "FROZEN"
    assert native.observed(spec.name).state == "paused"
    native.driver.unpause(spec.name)
    assert cg.freezer_state(spec.name) == "THAWED"
    assert native.observed(spec.name).state == "running"


def test_stop_waits_grace_period_then_kills(native: NativeHarness) -> None:
    stubborn = ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
    spec = native.run("stubborn", stubborn, stop_grace_period=1.5)
    began = time.monotonic()
    native.driver.stop(spec.name)
    took = time.monotonic() - began
    seen = native.observed(spec.name)
    assert (seen.state, seen.exit_code) == ("exited", 137)
    assert 1.4 <= took < 8, took


def test_stop_sends_the_spec_stop_signal(native: NativeHarness) -> None:
    polite = ["sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"]
    spec = native.run("polite", polite, stop_signal="SIGUSR1", stop_grace_period=20)
    began = time.monotonic()
    native.driver.stop(spec.name)
    assert time.monotonic() - began < 5
    assert native.observed(spec.name).exit_code == 42


def test_exited_container_can_be_started_again(native: NativeHarness) -> None:
    spec = native.run("again", ["sh", "-c", "echo run >> /count; exit 5"])
    native.exit_record(spec.name)
    native.driver.start(spec.name)
    native.exit_record(spec.name)
    seen = native.wait_state(spec.name, "exited")
    assert seen.exit_code == 5 and seen.restart_count == 1
    assert [line.text for line in native.driver.logs(spec.name)] == []
    upper = native.driver.layout.container(spec.name).upper / "count"
    assert upper.read_text() == "run\nrun\n"  # the writable layer survives a restart


def test_remove_leaves_nothing_and_is_idempotent(native: NativeHarness) -> None:
    containers = native.driver.layout.containers
    before = sorted(p.name for p in containers.iterdir())
    spec = native.run("gone", SLEEPER)
    native.driver.remove(spec.name)
    assert native.leaks() == []
    assert sorted(p.name for p in containers.iterdir()) == before
    assert native.observed(spec.name) is None
    native.driver.remove(spec.name)  # again: nothing to do, no error
    with pytest.raises(NotFound):
        native.driver.start(spec.name)


def test_bind_mount_read_only_inside(native: NativeHarness, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("from host\n")
    mount = Mount(type="bind", target="/data", source=str(tmp_path), read_only=True)
    spec = native.run("binder", SLEEPER, mounts=(mount,))
    check = 'test "$(cat /data/f)" = "from host" && ! touch /data/new 2>/dev/null'
    assert native.driver.exec(spec.name, ExecRequest(argv=["sh", "-c", check])) == 0
    assert not (tmp_path / "new").exists()


def test_named_volume_survives_remove_and_recreate(native: NativeHarness) -> None:
    mount = Mount(type="volume", target="/data", source="data")
    spec = native.run("db", SLEEPER, mounts=(mount,))
    write = ExecRequest(argv=["sh", "-c", "echo kept > /data/file"])
    assert native.driver.exec(spec.name, write) == 0
    volume = VolumeSpec(stack=native.stack, name="data")
    assert volume.full_name in native.driver.observe().volumes
    with pytest.raises(DriverError, match="in use"):
        native.driver.remove_volume(volume)
    native.driver.remove(spec.name)
    native.run("db", SLEEPER, mounts=(mount,))
    read = ExecRequest(argv=["sh", "-c", 'test "$(cat /data/file)" = kept'])
    assert native.driver.exec(spec.name, read) == 0
    native.driver.remove(spec.name)
    native.driver.remove_volume(volume)
    assert volume.full_name not in native.driver.observe().volumes


def test_tmpfs_size_applied(native: NativeHarness) -> None:
    mount = Mount(type="tmpfs", target="/scratch", size=8 * 2**20)
    spec = native.run("scratch", SLEEPER, mounts=(mount,))
    pid = native.observed(spec.name).pid
    with open(f"/proc/{pid}/mounts") as f:
        options = [line.split()[3] for line in f if line.split()[1] == "/scratch"]
    assert options and "size=8192k" in options[0].split(",")


def test_missing_bind_source_fails_before_anything_is_made(
    native: NativeHarness, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope")
    spec = native.spec("broken", SLEEPER, mounts=(Mount(type="bind", target="/x", source=missing),))
    with pytest.raises(DriverError) as caught:
        native.driver.create(spec)
    assert spec.name in str(caught.value) and missing in str(caught.value)
    assert "mounts[0]" in str(caught.value)
    assert not native.driver.layout.container(spec.name).root.exists()
    assert native.leaks() == []


def test_half_created_container_is_cleaned_and_recreated(native: NativeHarness) -> None:
    spec = native.spec("half", SLEEPER)
    paths = native.driver.layout.container(spec.name)
    image = native.driver.images.get(spec.image.identity)
    for directory in (paths.root, paths.upper, paths.work, paths.rootfs):
        directory.mkdir(mode=0o700)
    rootfs.mount_overlay(image.layers, paths.upper, paths.work, paths.rootfs)  # then "killed"
    assert rootfs.is_mounted(paths.rootfs)
    native.driver.remove(spec.name)
    assert native.leaks() == []
    native.driver.create(spec)
    native.driver.start(spec.name)
    assert native.observed(spec.name).state == "running"


def test_monitor_stays_small(native: NativeHarness) -> None:
    spec = native.run("measured", SLEEPER)
    rss = monitor_rss_kib(native.driver, spec.name)
    print(f"monitor RSS: {rss} KiB")
    assert rss < 20 * 1024


def test_lost_monitor_falls_back_to_runc_and_lost_runtime_state_is_dead(
    native: NativeHarness,
) -> None:
    spec = native.run("orphan", SLEEPER)
    paths = native.driver.layout.container(spec.name)
    os.kill(json.loads(paths.monitor_pid.read_text()), signal.SIGKILL)
    wait_for(lambda: native.observed(spec.name).pid is not None, 5, "runc fallback")
    assert native.observed(spec.name).state == "running"  # decided by `runc list` now
    native.driver.runc.delete(spec.name)  # runtime state gone behind our back
    seen = native.wait_state(spec.name, "dead")
    assert seen.exit_code is None


def test_a_removal_cut_short_is_observed_dead(native: NativeHarness) -> None:
    """remove() marks the container before it stops it: killed right after the stop, the
    next observe says dead (the planner re-makes it), not a finished exit."""
    spec = native.run("halfgone", SLEEPER)
    native.driver.layout.container(spec.name).removing.touch()  # as remove() does first
    native.driver.stop(spec.name, timeout=5)
    assert native.observed(spec.name).state == "dead"
