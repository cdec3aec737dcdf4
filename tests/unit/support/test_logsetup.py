"""LineLogger writes exactly what structlog wrote before it (the log lines of apply, down
and the loop are an interface: people grep them, CI parses the JSON ones), without
importing structlog. Each case is logged through both, the timestamps compared by shape."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from reconciler.support import logsetup
from reconciler.support.logsetup import LineLogger, LogFormat

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("info", "create web-1", {"seconds": 0.123}),
    ("error", "replace web-2", {"error": "exit status 1: no such image 'bb'"}),
    ("warning", "remove web-3", {"skipped": "dependency web-1 failed"}),
    ("info", "waiting for lock", {"pid": 4242}),
    ("info", "web-1 waits for db-1 to be healthy", {}),
    ("info", "image pulled", {"image": "docker.io/library/busybox:1.36",
                              "digest": "sha256:" + "ab" * 32, "layers_fetched": 1,
                              "bytes": 2 << 20, "seconds": 1.5}),
    ("info", "stack-changed", {"container": None, "file": "/srv/stacks/a b.yaml",
                               "revision": "r1", "problems": ["x: y", "z=1"]}),
    ("error", "a very long event name that is wider than the thirty columns", {"a": "="}),
    ("warning", "image-store-tmp-left", {"path": "/var/lib/x/tmp.1", "error": "EBUSY",
                                         "quote": 'say "hi"', "tab": "a\tb", "n": [1, 2]}),
    ("info", "", {"empty": "", "ok": True, "ratio": 2.5e-7}),
    ("debug", "dropped unless verbose", {"k": "v"}),
]


def _structlog_lines(fmt: LogFormat, verbose: bool, capsys: pytest.CaptureFixture[str]) -> str:
    logsetup.configure_logging(fmt, verbose)
    log = logsetup._structlog_logger()  # binds the captured stderr
    for level, event, fields in CASES:
        getattr(log, level)(event, **fields)
    return capsys.readouterr().err


def _line_logger_lines(fmt: LogFormat, verbose: bool) -> str:
    out = io.StringIO()
    log = LineLogger(fmt, 10 if verbose else 20, out)
    for level, event, fields in CASES:
        getattr(log, level)(event, **fields)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["console", "json"])
@pytest.mark.parametrize("verbose", [False, True])
def test_lines_are_structlogs(fmt: LogFormat, verbose: bool,
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    theirs = _structlog_lines(fmt, verbose, capsys)
    ours = _line_logger_lines(fmt, verbose)
    assert TIMESTAMP.sub("T", ours) == TIMESTAMP.sub("T", theirs)
    assert len(ours.splitlines()) == len(CASES) - (0 if verbose else 1)
    assert len(TIMESTAMP.findall(ours)) == len(ours.splitlines())
    if fmt == "json":
        assert [json.loads(line)["event"] for line in ours.splitlines()][:2] == [
            "create web-1", "replace web-2"]


def test_a_pipe_gets_the_line_logger_a_terminal_structlog(
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    logsetup.configure_logging("console")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(logsetup.logger(), LineLogger)
    logsetup.configure_logging("console")
    tty = io.StringIO()
    monkeypatch.setattr(tty, "isatty", lambda: True)
    monkeypatch.setattr("sys.stderr", tty)
    assert not isinstance(logsetup.logger(), LineLogger)
    logsetup.configure_logging("json")
    assert isinstance(logsetup.logger(), LineLogger)  # JSON lines are the same anywhere
    logsetup.configure_logging("console")
