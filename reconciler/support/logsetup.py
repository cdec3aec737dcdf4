"""structlog, configured once: console for people, JSON lines for machines. Logs go to
stderr so that stdout stays data (plans, ps tables, JSON).

structlog (and the rich tracebacks its console renderer pulls in) costs ~0.1 s to import,
so it is imported and configured on the first log call: a no-op apply logs nothing and
never pays for it.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

LogFormat = Literal["console", "json"]

_settings: dict[str, Any] = {"format": "console", "verbose": False, "done": False}


def configure_logging(fmt: LogFormat = "console", verbose: bool = False) -> None:
    _settings.update(format=fmt, verbose=verbose, done=False)


def _configure() -> None:
    import logging  # for its level numbers only, with structlog: on the first log call

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
    _settings["done"] = True


def logger() -> Any:
    """The project's structlog logger (a BoundLogger), configured on first use."""
    import structlog

    if not _settings["done"]:
        _configure()
    return structlog.get_logger()
