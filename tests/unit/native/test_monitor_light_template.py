"""The template is forked from a zygote that imported only C modules and monitor.py (every
page it holds then is shared by all its monitors, PSS 1/N each), and a monitor's death path
writes its records without the json module or the project's code: the same bytes as
json.dumps and support/events.py's append_event."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.drivers.native.container import monitor, zygote
from reconciler.support import events

template = zygote.template  # as the zygote imports it (by path, like the monitor)
HERE = Path(monitor.__file__).parent
HEAVY = {"socket", "json", "enum", "re", "pathlib", "typing", "signal", "reconciler"}


def test_the_template_forks_from_an_interpreter_without_the_heavy_modules() -> None:
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import zygote, template; "
              "template.warm_up(); print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script, str(HERE)],
                          capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert {"zygote", "template", "monitor", "ctypes"} <= loaded
    assert not loaded & HEAVY, loaded & HEAVY


RECORDS: list[dict[str, object]] = [
    {"exit_code": 137, "signal": 9, "finished_at": 1764633600.123456, "oom_killed": True},
    {"exit_code": 0, "signal": None, "finished_at": 0.5, "oom_killed": False},
    {"name": 'q"uo\\te é 😀', "n": -3, "f": 1e-7, "t": True},
    {},
]


@pytest.mark.parametrize("record", RECORDS)
def test_a_record_is_what_json_dumps_wrote(record: dict[str, object]) -> None:
    assert monitor.json_object(record) == json.dumps(record)


def test_a_record_with_a_value_json_lines_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError):
        monitor.json_object({"a": [1]})


def test_the_death_events_are_the_bytes_append_event_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (monitor.JOURNAL, monitor.JOURNAL_ROTATE_AT) == (events.FILE, events.ROTATE_AT)
    monkeypatch.setattr(monitor, "wall_clock", lambda: 1764633600.1234567)
    monkeypatch.setattr(events.time, "time", lambda: 1764633600.1234567)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in (ours, theirs):
        (folder / "containers" / "web").mkdir(parents=True)
    opts = monitor.Options([str(ours / "containers" / "web"), "runc", "root", "web"])
    record = {"exit_code": 137, "signal": 9, "finished_at": 1.0, "oom_killed": True}
    monitor.journal_death(opts, record)
    events.append_event(theirs, "oom", "web")
    events.append_event(theirs, "died", "web", exit_code=137, signal=9, oom_killed=True)
    assert (ours / events.FILE).read_bytes() == (theirs / events.FILE).read_bytes()
    assert [e["type"] for e in events.read_events(ours)] == ["oom", "died"]
    assert os.stat(ours / events.FILE).st_mode & 0o777 == 0o600


def test_a_full_journal_is_rotated_before_the_death_is_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor, "JOURNAL_ROTATE_AT", 10)
    (tmp_path / events.FILE).write_text('{"type": "old"}\n' * 2)
    monitor.append_event(str(tmp_path), "died", "web", {"exit_code": 1})
    assert (tmp_path / (events.FILE + ".1")).read_text() == '{"type": "old"}\n' * 2
    [event] = events.read_events(tmp_path)
    assert (event["type"], event["exit_code"]) == ("died", 1)


def test_oom_is_read_from_the_first_file_that_counts_a_kill(tmp_path: Path) -> None:
    v1, v2, junk = tmp_path / "oom_control", tmp_path / "memory.events", tmp_path / "junk"
    v1.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    v2.write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    junk.write_text("oom_kill many\n")
    missing = str(tmp_path / "missing")
    assert not monitor.oom_killed([str(v1), missing, str(junk)])
    assert monitor.oom_killed([missing, str(junk), str(v1), str(v2)])


def test_the_zygote_hands_a_request_and_its_connection_to_the_template() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client, conn = socket.socketpair()
    command_r, command_w = os.pipe()
    tpl = template.Template(0, command_w, ours)
    with theirs, client, conn:
        tpl.fork(template.encode(["d", "r", "root", "n"]), conn)
        assert os.read(command_r, 1) == b"F"
        argv, fd = template.take_request(theirs)
        assert argv == ["d", "r", "root", "n"]
        os.write(fd, b"ok")
        os.close(fd)
        assert client.recv(16) == b"ok"
        tpl.close()
    assert os.read(command_r, 1) == b""  # the template reads end of file and exits
    os.close(command_r)
