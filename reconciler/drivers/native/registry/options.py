"""Registry settings, kept apart from the HTTP client so that every command can carry
them without importing http.client and ssl (~50 ms): only a pull needs those."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RegistryOptions:
    insecure: tuple[str, ...] = ()  # hosts ("host" or "host:port") allowed over plain http
    config_path: Path | None = None  # Docker config.json with credentials
    parallel: int = 4  # layers downloaded at once
