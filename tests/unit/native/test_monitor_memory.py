"""What the monitor does without the stdlib's Python helpers (to keep its pages shared with
the zygote, docs/native.md "Choosing the monitor") still gives the same files: JSON lines
as json.dumps wrote them, rotation, atomic records; and the template's request hand-over."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from reconciler.drivers.native.container import monitor, zygote

template = zygote.template  # as the zygote imports it (by path, like the monitor)

TEXTS = ["plain", 'quo"te \\ back', "tab\tnl\r\x00\x1f", "é ü ß", "\ufffd", "😀 𝄞", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_a_log_line_is_what_json_dumps_wrote(text: str) -> None:
    for t in (1764633600.123456, 0.5, 1e-7):
        expected = json.dumps({"t": t, "s": "stderr", "l": text}) + "\n"
        assert monitor.json_line(t, "stderr", text) == expected.encode()
        assert json.loads(monitor.json_line(t, "stderr", text)) == {
            "t": t, "s": "stderr", "l": text}


def test_without_the_c_encoder_a_line_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = monitor.json_line(2.0, "stdout", TEXTS[2])
    monkeypatch.setattr(monitor, "_json_string", None)
    assert monitor.json_line(2.0, "stdout", TEXTS[2]) == fast


def test_each_line_is_in_the_file_once_written_and_one_file_rotates_alone(
    tmp_path: Path,
) -> None:
    live = tmp_path / "container.log"
    live.write_bytes(b'{"t": 1.0, "s": "stdout", "l": "old"}\n')
    log = monitor.RotatingLog(str(live), max_bytes=100, max_files=1)
    assert log.size == live.stat().st_size  # appends after what was there
    log.write("stdout", "x" * 30)
    assert json.loads(live.read_bytes().splitlines()[-1])["l"] == "x" * 30  # no flush needed
    log.write("stdout", "y" * 30)  # over 100 bytes: the only file starts again
    assert [json.loads(raw)["l"] for raw in live.read_bytes().splitlines()] == ["y" * 30]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["container.log"]
    os.close(log.fd)


def test_a_record_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "exit.json"
    target.write_text("old")
    monitor.write_json_atomic(str(target), {"exit_code": 3})
    assert json.loads(target.read_text()) == {"exit_code": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit.json"]


def test_the_exit_record_is_renamed_in_from_a_folder_the_death_watch_does_not_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watched folder sees the record arrive whole (one IN_MOVED_TO, deaths.py), not
    the writes of its temporary file."""
    renames: list[tuple[str, str]] = []
    real = monitor.replace
    monkeypatch.setattr(monitor, "replace",
                        lambda src, dst: (renames.append((src, dst)), real(src, dst))[1])
    (tmp_path / "logs").mkdir()
    monitor.write_json_atomic(str(tmp_path / "exit.json"), {"exit_code": 3},
                              str(tmp_path / "logs"))
    [(src, dst)] = renames
    assert os.path.dirname(src) == str(tmp_path / "logs") and dst == str(tmp_path / "exit.json")
    assert json.loads((tmp_path / "exit.json").read_text()) == {"exit_code": 3}
    assert sorted(os.listdir(tmp_path / "logs")) == []


def test_the_exit_record_is_published_before_its_fsync_other_records_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The death watch reads exit.json the moment it lands: its fsync is off that path."""
    calls: list[str] = []
    real_replace, real_fsync = monitor.replace, monitor.fsync
    monkeypatch.setattr(monitor, "replace",
                        lambda src, dst: (calls.append("rename"), real_replace(src, dst))[1])
    monkeypatch.setattr(monitor, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monitor.write_json_atomic(str(tmp_path / "exit.json"), {"exit_code": 3}, publish_first=True)
    assert calls == ["rename", "fsync"]
    calls.clear()
    monitor.write_text_atomic(str(tmp_path / "monitor.pid"), "7")
    assert calls == ["fsync", "rename"]
    assert json.loads((tmp_path / "exit.json").read_text()) == {"exit_code": 3}
    assert sorted(os.listdir(tmp_path)) == ["exit.json", "monitor.pid"]


def test_a_request_crosses_to_the_template_with_its_connection() -> None:
    argv = ["/state/containers/web", "/usr/sbin/runc", "/run/x", "web", "--run"]
    assert template.decode(template.encode(argv)) == argv
    for bad in ([], ["a\0b"]):
        with pytest.raises(ValueError):
            template.encode(bad)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client, conn = socket.socketpair()
    with ours, theirs, client, conn:
        socket.send_fds(ours, [template.encode(argv)], [conn.fileno()])
        got, fd = template.take_request(theirs)
        assert got == argv
        os.write(fd, b"ok")  # the received descriptor is the client's connection
        os.close(fd)
        assert client.recv(16) == b"ok"


def test_a_template_that_cannot_fork_answers_the_client_itself() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client, conn = socket.socketpair()
    with ours, theirs, client, conn:
        socket.send_fds(ours, [template.encode(["d", "r", "root", "n"])], [conn.fileno()])
        template.refuse(theirs, BlockingIOError(11, "Resource temporarily unavailable"))
        assert client.recv(200).startswith(b"error: monitor: fork: BlockingIOError")


def test_the_zygote_sees_the_templates_children() -> None:
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "5"])
    try:
        assert zygote.has_children(os.getpid())
        assert zygote._parent(str(pid)) == os.getpid()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert zygote._parent("0") == 0  # no such process
