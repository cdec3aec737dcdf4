"""The read log sees every read of a window (opens, stats, listings), signs each so that a
later change is found, and refuses a window that did something it cannot check again."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from reconciler.support import readlog, readsig


def _entries(log: readlog.ReadLog) -> list[list[str]]:
    return [[kind, path, sig] for (kind, path), sig in log.entries.items()]


def test_opens_stats_and_listings_are_logged_and_a_change_of_each_is_seen(tmp_path: Path) -> None:
    data, folder, absent = tmp_path / "data.txt", tmp_path / "folder", tmp_path / "absent"
    data.write_text("one\n")
    folder.mkdir()
    (folder / "a").write_text("")
    with readlog.recording() as log:
        data.read_text()
        assert not absent.exists()
        sorted(os.listdir(folder))
    assert log.unrecordable is None
    kinds = {(kind, Path(path).name) for kind, path in log.entries}
    assert {("read", "data.txt"), ("stat", "absent"), ("list", "folder")} <= kinds
    assert readsig.unchanged(_entries(log))

    data.write_text("two\n")  # same size, other bytes
    assert not readsig.unchanged(_entries(log))
    data.write_text("one\n")
    assert readsig.unchanged(_entries(log)), "content, not time, signs a file read"
    absent.write_text("")
    assert not readsig.unchanged(_entries(log))
    absent.unlink()
    (folder / "b").mkdir()
    assert not readsig.unchanged(_entries(log))


def test_a_listing_signs_entry_types_too(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with readlog.recording() as log:
        list(os.scandir(tmp_path))
    (tmp_path / "x").unlink()
    (tmp_path / "x").mkdir()
    assert not readsig.unchanged(_entries(log))


def test_writes_are_refused_outside_the_ignored_folders_only(tmp_path: Path) -> None:
    cache = tmp_path / "state" / "cache"
    with readlog.recording(ignore=(str(cache),)) as log:
        cache.mkdir(parents=True)  # the folder above it too
        (cache / "entry").write_text("derived")
        os.replace(cache / "entry", cache / "entry2")
    assert log.unrecordable is None and not log.entries
    with readlog.recording(ignore=(str(cache),)) as log:
        (tmp_path / "elsewhere").write_text("x")
    assert log.unrecordable is not None and "elsewhere" in log.unrecordable


@pytest.mark.parametrize("act", ["process", "socket", "stat-at-fd"])
def test_what_cannot_be_checked_again_makes_the_window_unrecordable(
    act: str, tmp_path: Path
) -> None:
    with readlog.recording() as log:
        if act == "process":
            subprocess.run(["true"], check=True)
        elif act == "socket":
            socket.socket(socket.AF_UNIX).close()
        else:
            fd = os.open(tmp_path, os.O_RDONLY)
            try:
                os.stat("x", dir_fd=fd) if (tmp_path / "x").exists() else os.stat(".", dir_fd=fd)
            finally:
                os.close(fd)
    assert log.unrecordable is not None, act


def test_stat_is_restored_and_windows_do_not_nest(tmp_path: Path) -> None:
    real = os.stat
    with readlog.recording():
        assert os.stat is not real
        with pytest.raises(RuntimeError), readlog.recording():
            pass
    assert os.stat is real
    with readlog.recording() as log:  # the hook idles between windows, then works again
        (tmp_path / "f").write_bytes(b"")
    assert log.unrecordable is not None


def test_a_process_stat_is_signed_by_liveness_parent_and_start_not_counters() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        path = f"/proc/{sleeper.pid}/stat"
        sig = readsig.signature("read", path)
        sum(range(100000))
        assert readsig.signature("read", path) == sig
        sleeper.kill()
        sleeper.wait()
        assert readsig.signature("read", path) != sig
    finally:
        sleeper.kill()


def test_a_fifo_does_not_block_the_check(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert readsig.signature("read", str(fifo)).startswith("stat:")


def test_python_files_are_left_to_the_code_stamp(tmp_path: Path) -> None:
    (tmp_path / "input.txt").write_text("read")
    with readlog.recording() as log:
        readsig.__loader__.get_source(readsig.__name__)  # type: ignore[union-attr]
        (tmp_path / "input.txt").read_text()
    assert ("read", str(tmp_path / "input.txt")) in log.entries  # the window did log
    assert not any(path.endswith(".py") for _, path in log.entries)


def test_an_unlogged_stretch_is_neither_logged_nor_refused(tmp_path: Path) -> None:
    (tmp_path / "layout").write_text("cgroup mounts")
    with readlog.recording() as log:
        with readlog.unlogged():
            (tmp_path / "layout").read_text()
            (tmp_path / "written").write_text("x")
        (tmp_path / "after").exists()
    assert log.unrecordable is None
    assert {Path(p).name for _, p in log.entries} == {"after"}


def test_a_listing_entrys_stat_is_logged_too(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("one")
    with readlog.recording() as log, os.scandir(tmp_path) as listing:
        sizes = [entry.stat(follow_symlinks=False).st_size for entry in listing]
    assert sizes == [3]
    assert ("lstat", str(tmp_path / "f")) in log.entries
    os.chmod(tmp_path / "f", 0o600)  # metadata only: the listing holds, the stat does not
    assert not readsig.unchanged(_entries(log))
    assert os.scandir is readsig.real_scandir


def test_os_walk_works_inside_a_window_and_is_logged(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    with readlog.recording() as log:
        found = [(Path(top).name, sorted(files)) for top, _, files in os.walk(tmp_path)]
    assert found == [(tmp_path.name, []), ("a", []), ("b", ["f"])]
    assert {("list", str(tmp_path / "a" / "b"))} <= set(log.entries)
    (tmp_path / "a" / "b" / "g").write_text("")
    assert not readsig.unchanged(_entries(log))


def test_a_callers_note_can_be_checked_at_the_windows_end_and_dropped(tmp_path: Path) -> None:
    """at_close runs inside the window, after its body: what it reads is logged; a note the
    caller forgets there is not recorded (drivers/docker/anchor.py's second look)."""
    late = tmp_path / "late.txt"
    late.write_text("x")
    order: list[str] = []

    def last() -> None:
        order.append("closing")
        assert readlog.noted("own", "key")
        late.read_text()
        readlog.forget("own", "key")

    with readlog.recording() as log:
        readlog.note("own", "key", "sig")
        readlog.at_close(last)
        order.append("body")
    assert order == ["body", "closing"]
    assert ("own", "key") not in log.entries and ("read", str(late)) in log.entries
    assert not readlog.noted("own", "key"), "no window: nothing is noted"
