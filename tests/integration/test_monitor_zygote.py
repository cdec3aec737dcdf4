"""The monitor zygote (container/zygote.py) on the real kernel and runc: every monitor is
forked by one detached zygote, a killed zygote or a killed `reconcile run` loses nothing,
and nothing outlives the last container."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from reconciler.drivers.native.container import zygote
from reconciler.drivers.native.driver import NativeDriver
from reconciler.model.desired import ImageSource
from tests.integration import native_helpers
from tests.integration.loop_helpers import LoopHost, loop_host, wait_until
from tests.integration.native_helpers import NativeHarness, find_leaks, wait_for

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
loop_host = loop_host  # the fixture, re-exported for this module
SLEEPER = ["sleep", "3600"]


@pytest.fixture
def fresh(busybox_image: ImageSource, tmp_path: Path) -> NativeHarness:
    """A state dir of its own: its zygote serves this test alone."""
    native_helpers.require_host()
    driver = NativeDriver(tmp_path / "state")
    driver.ensure_image(busybox_image)
    return NativeHarness(driver, busybox_image)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _monitor(native: NativeHarness, name: str) -> int:
    pid: int = json.loads(native.driver.layout.container(name).monitor_pid.read_text())
    return pid


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _remove_all(native: NativeHarness) -> None:
    for name in sorted(native.names):
        native.driver.remove(name)


def test_monitors_share_one_detached_zygote_that_retires_when_idle(
    fresh: NativeHarness,
) -> None:
    names = [fresh.run(f"z{i}", SLEEPER).name for i in range(3)]
    monitors = [_monitor(fresh, n) for n in names]
    zygotes = {_parent(m) for m in monitors}
    assert len(zygotes) == 1, "every monitor is a child of the one zygote"
    (zygote_pid,) = zygotes
    assert _parent(zygote_pid) != os.getpid()  # detached: not reconcile's child
    cmdline = Path(f"/proc/{zygote_pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[3].endswith(b"zygote.py")
    socket_path = Path(fresh.driver.launcher.path)
    assert socket_path.parent == Path("/run/reconcile")  # no container sees the host's /run
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert "@reconcile" not in Path("/proc/net/unix").read_text()  # no abstract socket
    for name in names:  # each container's init is its monitor's child (observe relies on it)
        seen = fresh.observed(name)
        assert seen.state == "running" and _parent(seen.pid) == _monitor(fresh, name)
    _remove_all(fresh)
    assert not any(_alive(m) for m in monitors)
    wait_for(lambda: not _alive(zygote_pid), zygote.IDLE + 10, "the idle zygote to exit")
    assert not socket_path.exists()
    assert find_leaks(fresh.driver, fresh.names) == []


def test_a_killed_zygote_loses_no_monitor_and_a_new_one_serves(fresh: NativeHarness) -> None:
    first = fresh.run("k1", SLEEPER)
    zygote_pid = _parent(_monitor(fresh, first.name))
    os.kill(zygote_pid, signal.SIGKILL)
    wait_for(lambda: not _alive(zygote_pid), 5, "the zygote to die")
    seen = fresh.observed(first.name)
    assert seen.state == "running" and _alive(_monitor(fresh, first.name))
    second = fresh.run("k2", SLEEPER)  # a new zygote is started for it
    assert _parent(_monitor(fresh, second.name)) not in (zygote_pid, os.getpid())
    os.kill(seen.pid, signal.SIGKILL)  # the orphaned monitor still records the exit
    record = fresh.exit_record(first.name)
    assert record["exit_code"] == 137 and record["signal"] == signal.SIGKILL
    _remove_all(fresh)
    assert find_leaks(fresh.driver, fresh.names) == []


def test_a_killed_serving_zygote_takes_its_template_along_and_no_monitor(
    fresh: NativeHarness,
) -> None:
    """The monitors' parent is the quiet template; above it the serving zygote."""
    first = fresh.run("s1", SLEEPER)
    template_pid = _parent(_monitor(fresh, first.name))
    serving = _parent(template_pid)
    assert Path(f"/proc/{template_pid}/comm").read_text().strip() == "reconcile-tpl"
    assert Path(f"/proc/{serving}/comm").read_text().strip() == "reconcile-zyg"
    os.kill(serving, signal.SIGKILL)
    wait_for(lambda: not _alive(template_pid), 5, "the template to exit with its zygote")
    seen = fresh.observed(first.name)
    assert seen.state == "running" and _alive(_monitor(fresh, first.name))
    second = fresh.run("s2", SLEEPER)  # a new zygote (and template) serves
    assert _parent(_monitor(fresh, second.name)) not in (template_pid, serving, os.getpid())
    os.kill(seen.pid, signal.SIGKILL)
    assert fresh.exit_record(first.name)["exit_code"] == 137
    _remove_all(fresh)
    assert find_leaks(fresh.driver, fresh.names) == []


def test_logs_and_oom_through_a_forked_monitor(fresh: NativeHarness) -> None:
    from reconciler.model.desired import Limits

    spec = fresh.run("talk", ["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert fresh.exit_record(spec.name)["exit_code"] == 4
    assert [(x.stream, x.text) for x in fresh.driver.logs(spec.name)] == [
        ("stdout", "out"), ("stderr", "err")]
    hog = fresh.run("hog", ["sh", "-c", "x=a; while true; do x=$x$x; done"],
                    limits=Limits(memory=8 * 2**20, memory_swap=8 * 2**20))
    record = fresh.exit_record(hog.name, timeout=30)
    assert record["oom_killed"] is True and record["exit_code"] == 137
    events = [json.loads(line) for line in
              (fresh.driver.layout.root / "events.jsonl").read_text().splitlines()]
    assert {"oom", "died"} <= {e["type"] for e in events if e["name"] == hog.name}
    _remove_all(fresh)
    assert find_leaks(fresh.driver, fresh.names) == []


def test_kill_9_of_the_loop_exit_recorded_meanwhile_and_fifty_adopted(
    loop_host: LoopHost,
) -> None:
    host = loop_host
    name = f"{host.prefix}z"
    host.write("z.yaml", host.stack_text(name, {f"c{i:02}": "1" for i in range(50)}), name)
    first = host.start("--parallelism", "8")
    rows = wait_until(lambda: _all_running(host, name, 50), 240, "50 running")
    pids = {n: r["pid"] for n, r in rows.items()}
    created = len(host.events("created"))
    first.send_signal(signal.SIGKILL)
    first.wait()
    victim = f"{name}-c13"
    killed = time.time()
    os.kill(int(pids[victim]), signal.SIGKILL)
    exit_file = host.state / "containers" / victim / "exit.json"
    wait_until(exit_file.exists, 10, "the exit record written while no reconcile runs")
    record = json.loads(exit_file.read_text())
    assert record["exit_code"] == 137
    assert killed <= record["finished_at"] <= time.time()
    host.start()
    rows = wait_until(lambda: _restarted(host, name, victim), 60, "the victim restarted")
    assert len(host.events("created")) == created  # nothing replaced or re-created
    assert {n: r["pid"] for n, r in rows.items() if n != victim} == {
        n: p for n, p in pids.items() if n != victim}


def _all_running(host: LoopHost, name: str, n: int) -> dict[str, dict[str, object]] | None:
    rows = host.ps(name)
    up = {k: r for k, r in rows.items() if r["state"] == "running" and r.get("pid")}
    return up if len(up) == n else None


def _restarted(host: LoopHost, name: str, victim: str) -> dict[str, dict[str, object]] | None:
    rows = _all_running(host, name, 50)
    return rows if rows and rows[victim]["restarts"] == 1 else None
