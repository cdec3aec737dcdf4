"""support.atomic: whole content or none, the asked mode, no temporary file left."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from reconciler.support import atomic


def test_text_replaces_the_whole_content(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old and longer than the new content\n")
    atomic.write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_json_is_sorted_and_newline_terminated(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic.write_json(target, {"b": 1, "a": [1, 2]}, indent=None)
    assert target.read_text() == '{"a": [1, 2], "b": 1}\n'
    atomic.write_json(target, {"when": object()}, default=lambda _v: "x")
    assert json.loads(target.read_text()) == {"when": "x"}


def test_mode_is_exact_and_default_follows_the_umask(tmp_path: Path) -> None:
    atomic.write_text(tmp_path / "hosts", "x", mode=0o644)
    assert stat.S_IMODE((tmp_path / "hosts").stat().st_mode) == 0o644
    atomic.write_bytes(tmp_path / "secret", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    old = os.umask(0o027)
    try:
        atomic.write_bytes(tmp_path / "plain", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o640


def test_failing_write_keeps_the_old_content_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken_fsync(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        atomic.write_json(target, {"a": 1})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_unserializable_value_touches_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic.write_json(tmp_path / "r.json", {"a": object()})
    assert os.listdir(tmp_path) == []


def test_missing_folder_raises_and_parallel_writers_do_not_collide(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic.write_text(tmp_path / "no" / "f", "x")
    target = tmp_path / "shared.json"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                atomic.write_json(target, {"writer": n, "i": i})
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(target.read_text())["i"] == 19
    assert os.listdir(tmp_path) == ["shared.json"]


def test_a_durable_write_fsyncs_file_and_folder_and_a_cache_write_neither(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    target = tmp_path / "record"
    atomic.write_bytes(target, b"durable")
    assert len(synced) == 2 and target.read_bytes() == b"durable"
    synced.clear()
    atomic.write_bytes(target, b"cache", mode=0o600, durable=False)
    assert synced == [] and target.read_bytes() == b"cache"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["record"]  # no temporary left
