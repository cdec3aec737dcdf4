"""The native driver's death watch (drivers/native/deaths.py) on a real inotify fd and
real folders: what it tells, what it leaves to the kernel to drop, and that it cleans up."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.base import DriverEvent
from reconciler.drivers.native import deaths
from reconciler.drivers.native.inotify import IN_MOVED_FROM, IN_Q_OVERFLOW, Inotify

BOUND = 0.25  # s: normal is ~1 ms; watchdog's move pairing held deaths 0.5 s


class Deaths:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.got: queue.Queue[DriverEvent] = queue.Queue()
        self.watch = deaths.DeathWatch(root, self.got.put)

    def container(self, name: str) -> Path:
        folder = self.root / name
        (folder / "logs").mkdir(parents=True)
        return folder

    def next(self, timeout: float = 5.0) -> DriverEvent:
        return self.got.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.got.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Deaths]:
    d = Deaths(tmp_path / "containers")
    d.watch.start()
    yield d
    d.watch.close()


def die(folder: Path, code: int = 137) -> None:
    """As the monitor writes it: fsynced in logs/, renamed in."""
    tmp = folder / "logs" / ".exit.json.tmp"
    tmp.write_text(json.dumps({"exit_code": code, "oom_killed": False}))
    os.replace(tmp, folder / "exit.json")


def rename_inside(folder: Path, name: str) -> None:
    """How monitor.pid and started.json are written: a temporary file beside the target."""
    tmp = folder / f".{name}.tmp"
    tmp.write_text("1")
    os.replace(tmp, folder / name)


def test_a_death_in_a_folder_made_after_start_is_told_with_its_exit_code(
    watched: Deaths,
) -> None:
    web = watched.container("web")
    time.sleep(0.05)  # the folder's watch is added by the watch's thread
    die(web, 3)
    event = watched.next()
    assert (event.kind, event.name, event.exit_code) == ("died", "web", 3)
    assert watched.none_within(0.1)


def test_a_record_made_before_the_watch_is_told_once_at_start(tmp_path: Path) -> None:
    d = Deaths(tmp_path / "containers")
    die(d.container("old"), 1)
    d.container("alive")
    d.watch.start()
    try:
        assert d.next(timeout=0).name == "old"  # told by start() itself
        assert d.none_within(0.1)
    finally:
        d.watch.close()


def test_only_the_exit_record_is_told_not_the_other_records_or_reads(watched: Deaths) -> None:
    web = watched.container("web")
    time.sleep(0.05)
    for _ in range(20):
        rename_inside(web, "monitor.pid")
        rename_inside(web, "started.json")
        (web / "prepared").write_text("")
        (web / "started.json").read_bytes()
        (web / "prepared").unlink()
    assert watched.none_within(0.2)
    die(web)
    assert watched.next().name == "web"


def test_renames_in_other_folders_and_its_own_do_not_hold_a_death(watched: Deaths) -> None:
    folders = [watched.container(f"c{i}") for i in range(3)]
    time.sleep(0.05)
    for round_ in range(10):
        x, y = folders[round_ % 3], folders[(round_ + 1) % 3]
        rename_inside(x, "monitor.pid")  # container x starting
        rename_inside(y, "started.json")  # y started just before it died
        began = time.monotonic()
        die(y)
        event = watched.next()
        assert event.name == y.name and time.monotonic() - began < BOUND
        (y / "exit.json").unlink()


def test_the_kernel_queues_no_opens_reads_or_in_folder_temporaries(tmp_path: Path) -> None:
    """Observe reads every record of every container: those reads never reach the watch."""
    (tmp_path / "record").write_text("{}")
    inotify = Inotify()
    try:
        inotify.add_watch(str(tmp_path), deaths.EXITS_MASK)
        for _ in range(5):
            (tmp_path / "record").read_bytes()
            os.listdir(tmp_path)
        assert list(inotify.read()) == []
        rename_inside(tmp_path, "started.json")  # its temporary's write, then the rename in
        events = list(inotify.read())
        assert [name for _, _, name in events] == [".started.json.tmp", "started.json"]
        assert not any(mask & IN_MOVED_FROM for _, mask, _ in events)  # nothing to pair
    finally:
        inotify.close()


def test_a_removed_and_remade_container_is_watched_again(watched: Deaths) -> None:
    web = watched.container("web")
    time.sleep(0.05)
    (web / "logs").rmdir()
    web.rmdir()
    time.sleep(0.05)
    assert list(watched.watch._names.values()) == []  # IN_IGNORED dropped the old watch
    web = watched.container("web")
    time.sleep(0.05)
    die(web, 2)
    assert watched.next().exit_code == 2


def test_a_queue_overflow_tells_every_record_there_again(watched: Deaths) -> None:
    die(watched.container("a"))
    watched.container("b")
    time.sleep(0.05)
    assert watched.next().name == "a"
    watched.watch._handle([(-1, IN_Q_OVERFLOW, "")])  # what the kernel sends then
    assert watched.next(timeout=0).name == "a"
    assert watched.none_within(0.05)


def test_close_leaves_no_fd_or_thread_and_stops_telling(tmp_path: Path) -> None:
    fds, threads = set(os.listdir("/proc/self/fd")), set(threading.enumerate())
    d = Deaths(tmp_path / "containers")
    web = d.container("web")
    d.watch.start()
    assert len(threading.enumerate()) == len(threads) + 1  # one thread, whatever the count
    d.watch.close()
    d.watch.close()  # twice is harmless
    assert set(os.listdir("/proc/self/fd")) == fds
    assert set(threading.enumerate()) == threads
    die(web)
    assert d.none_within(0.05)
