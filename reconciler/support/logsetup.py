"""Logging, configured once: console for people, JSON lines for machines. Logs go to
stderr so that stdout stays data (plans, ps tables, JSON).

Importing structlog costs ~0.2 s (it pulls in rich, asyncio and attrs): a tenth of a cold
apply of 10 containers. So only a terminal gets structlog (its coloured console, its
tracebacks); a pipe or a file, and `--log-format json`, get `LineLogger`, which writes
the very lines structlog's plain ConsoleRenderer and JSONRenderer would (same processors:
level, UTC ISO timestamp; tests/unit/support/test_logsetup.py compares them). Either is
set up on the first log call: a no-op apply logs nothing and pays for neither.
"""

from __future__ import annotations

import _thread
import json
import sys
from typing import Any, Literal, TextIO

LogFormat = Literal["console", "json"]

_settings: dict[str, Any] = {"format": "console", "verbose": False, "logger": None}
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_LEVEL_WIDTH = len("exception")  # structlog pads to its longest level name
_EVENT_WIDTH = 30  # and the event to 30 characters
_NEEDS_QUOTES = frozenset(" \t=\r\n\"'")
# keys structlog's renderers treat specially: such a call goes to structlog itself
_STRUCTLOG_ONLY = frozenset({"exc_info", "exception", "stack", "stack_info"})
# the executor logs from several threads; threading.Lock itself, without importing threading
# (~1.3 ms) for a command that starts none
_write_lock = _thread.allocate_lock()


def configure_logging(fmt: LogFormat = "console", verbose: bool = False) -> None:
    _settings.update(format=fmt, verbose=verbose, logger=None)


class LineLogger:
    """info/warning/error/debug(event, **fields): one line each, as structlog renders it."""

    def __init__(self, fmt: LogFormat, min_level: int, stream: TextIO) -> None:
        self.fmt, self.min_level, self.stream = fmt, min_level, stream

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log("critical", event, fields)

    def _log(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < self.min_level:
            return
        if _STRUCTLOG_ONLY & fields.keys():
            getattr(_structlog_logger(), level)(event, **fields)
            return
        line = render_line(self.fmt, level, event, fields, _utc_now_iso())
        with _write_lock:
            print(line, file=self.stream, flush=True)


def _utc_now_iso() -> str:
    """structlog's TimeStamper(fmt="iso", utc=True)."""
    import datetime  # only once something is logged

    return datetime.datetime.now(tz=datetime.UTC).isoformat().replace("+00:00", "Z")


def render_line(fmt: LogFormat, level: str, event: str, fields: dict[str, Any],
                timestamp: str) -> str:  # fmt: skip
    """One event as structlog's chain (add_log_level, TimeStamper, renderer) renders it."""
    record = {**fields, "event": event, "level": level, "timestamp": timestamp}
    if fmt == "json":
        return json.dumps(record, default=_json_fallback)
    columns = [str(record.pop("timestamp")), f"[{record.pop('level')!s:<{_LEVEL_WIDTH}}]",
               f"{record.pop('event')!s:<{_EVENT_WIDTH}}"]
    columns += [f"[{record.pop(key)}]" for key in ("logger", "logger_name") if key in record]
    columns += [f"{key}={_console_repr(record[key])}" for key in sorted(record)]
    return " ".join(c for c in columns if c).rstrip(" ")


def _console_repr(value: object) -> str:
    """ConsoleRenderer's value format: a plain word as is, anything else repr()."""
    if isinstance(value, str) and not _NEEDS_QUOTES & set(value):
        return value
    return repr(value)


def _json_fallback(value: Any) -> Any:
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


def _structlog_logger() -> Any:
    """structlog configured as the settings say (a terminal's coloured console)."""
    import logging  # for its level numbers only, with structlog

    import structlog

    level = logging.DEBUG if _settings["verbose"] else logging.INFO
    renderer: Any
    if _settings["format"] == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger()


def logger() -> Any:
    """The project's logger, configured on first use: structlog on a terminal, else a
    LineLogger (same output, no structlog import)."""
    if _settings["logger"] is None:
        if _settings["format"] == "console" and sys.stderr.isatty():
            _settings["logger"] = _structlog_logger()
        else:
            min_level = _LEVELS["debug" if _settings["verbose"] else "info"]
            _settings["logger"] = LineLogger(_settings["format"], min_level, sys.stderr)
    return _settings["logger"]
