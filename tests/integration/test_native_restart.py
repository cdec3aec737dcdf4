"""Starting an exited container again (issue 14): the monitor deletes runc's state of the
dead run, the restart keeps the bundle, the overlay mount and the network when they are
intact, and makes them again when they are not; the container really runs again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from reconciler.drivers.native.container import rerun
from reconciler.drivers.native.network import links
from tests.integration import native_helpers
from tests.integration.native_helpers import NativeHarness, wait_for

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native

SLEEP = ["sh", "-c", "echo up; exec sleep 3600"]


def _mount_id(target: Path) -> str | None:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(target):
                return fields[0]
    return None


def _kill_and_wait(native: NativeHarness, name: str) -> None:
    pid = native.observed(name).pid
    os.kill(pid, signal.SIGKILL)
    native.exit_record(name)  # and the monitor gone


def test_a_restart_keeps_bundle_and_mounts_and_runs_again(native: NativeHarness) -> None:
    spec = native.run("keep", SLEEP, network="none")
    paths = native.driver.layout.container(spec.name)
    first = native.wait_state(spec.name, "running")
    mount, config = _mount_id(paths.rootfs), paths.config.stat().st_ino
    _kill_and_wait(native, spec.name)
    assert not native.driver.runc.has_state(spec.name)  # the monitor deleted it
    assert native.observed(spec.name).exit_code == 137
    native.driver.start(spec.name)
    again = native.wait_state(spec.name, "running")
    assert again.pid != first.pid and again.restart_count == first.restart_count + 1
    assert _mount_id(paths.rootfs) == mount and paths.config.stat().st_ino == config
    assert not paths.prepared.exists() and not paths.exit.exists()
    wait_for(lambda: [line.text for line in native.driver.logs(spec.name)] == ["up", "up"],
             5, "the log of both runs")  # fmt: skip


def test_a_bundle_of_another_code_version_is_made_again(native: NativeHarness) -> None:
    spec = native.run("stale", SLEEP, network="none")
    paths = native.driver.layout.container(spec.name)
    (paths.bundle / rerun.MADE_BY).write_text("an older reconcile")
    config = paths.config.stat().st_ino
    _kill_and_wait(native, spec.name)
    native.driver.start(spec.name)
    native.wait_state(spec.name, "running")
    assert paths.config.stat().st_ino != config
    assert (paths.bundle / rerun.MADE_BY).read_text() == rerun.bundle_version()


def test_a_restart_keeps_an_intact_network_and_repairs_a_broken_one(
        native: NativeHarness) -> None:
    spec = native.run("net", SLEEP)  # private network
    manager = native.driver.network
    veth = manager.veth(spec.name)
    index = links.link(veth).index  # type: ignore[union-attr]
    address = native.observed(spec.name).addresses
    _kill_and_wait(native, spec.name)
    assert manager.links_intact(spec.name, spec.stack)
    native.driver.start(spec.name)
    native.wait_state(spec.name, "running")
    assert links.link(veth).index == index  # type: ignore[union-attr]  # kept
    _kill_and_wait(native, spec.name)
    links.delete_link(veth)  # behind our back, while it is stopped
    assert not manager.links_intact(spec.name, spec.stack)
    native.driver.start(spec.name)
    seen = native.wait_state(spec.name, "running")
    assert links.link(veth) is not None and seen.addresses == address and seen.drift == ()


def test_a_removal_racing_the_dead_runs_monitor_leaves_nothing(native: NativeHarness) -> None:
    """remove() right after the kill, while the monitor records the exit and deletes
    runc's state: both delete, neither fails, nothing is left."""
    for key in ("race-a", "race-b", "race-c"):
        spec = native.run(key, SLEEP, network="none")
        os.kill(native.observed(spec.name).pid, signal.SIGKILL)
        native.driver.remove(spec.name)
    assert native.leaks() == []
