"""Registry settings, kept apart from the HTTP client so that every command can carry
them without importing http.client and ssl (~50 ms): only a pull needs those.

The time limits keep one registry from holding the state-dir lock (and so every other
apply) forever: a pull has an overall deadline, a transfer that stays below a minimum
rate over a sliding window is stopped, and a socket that receives nothing for
`stall_timeout` seconds fails. docs/registry.md lists the defaults.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.model.records import record

DEFAULT_PULL_TIMEOUT = 30 * 60.0
DEFAULT_STALL_TIMEOUT = 30.0
DEFAULT_MIN_RATE_BYTES = 32 << 10
DEFAULT_MIN_RATE_WINDOW = 30.0


@record(frozen=True)
class RegistryOptions:
    insecure: tuple[str, ...] = ()  # hosts ("host" or "host:port") allowed over plain http
    config_path: Path | None = None  # Docker config.json with credentials
    parallel: int = 4  # layers downloaded at once
    pull_timeout: float = DEFAULT_PULL_TIMEOUT  # seconds for a whole pull, all requests
    stall_timeout: float = DEFAULT_STALL_TIMEOUT  # seconds a socket may receive nothing
    # A response still arriving after `min_rate_window` seconds must have brought at least
    # `min_rate_bytes` in the last `min_rate_window` seconds (headers count as 0 bytes).
    min_rate_bytes: int = DEFAULT_MIN_RATE_BYTES
    min_rate_window: float = DEFAULT_MIN_RATE_WINDOW
