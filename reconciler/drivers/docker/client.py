"""The edge of the docker driver: the Engine API client, and the one place where the
engine's exceptions (docker.errors.*, requests') become the project's own errors.

The docker SDK is untyped; its client is an `Any` that does not leave this package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]
import requests

from reconciler.model.errors import DriverError, ImageError, NotFound, ReconcileError

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Engine API 1.41 is Docker 20.10 (Debian 12's docker.io), the oldest one tested.
MIN_API = (1, 41)
TIMEOUT = 120  # seconds for one API call (pulls and loads stream, so they are not bound)
START_HINT = ("start it with `dockerd &` (or `systemctl start docker`), or point DOCKER_HOST "
              "at a running engine")


class EngineUnavailable(ReconcileError):
    """The engine cannot be reached, refuses us, or is too old."""


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return (0,)


def connect(host: str | None = None) -> Any:
    """An APIClient for `host` (default DOCKER_HOST, else the system socket), with the
    API version negotiated and checked."""
    host = host or engine_host()
    try:
        client = docker.APIClient(base_url=host, version="auto", timeout=TIMEOUT)
    except docker.errors.DockerException as exc:
        raise _unreachable(host, exc) from None
    api = str(client.api_version)
    if _version_tuple(api) < MIN_API:
        wanted = ".".join(map(str, MIN_API))
        raise EngineUnavailable(f"the Docker Engine at {host} speaks API {api}; reconcile "
                                f"needs {wanted} or newer (Docker 20.10+): upgrade the engine")
    return client


def _unreachable(host: str, exc: BaseException) -> EngineUnavailable:
    text = str(exc)
    source = "DOCKER_HOST" if os.environ.get("DOCKER_HOST") else "the default socket"
    if "Permission denied" in text or "PermissionError" in text:
        return EngineUnavailable(
            f"permission denied on the Docker socket {host} ({source}): run as root, or add "
            "your user to the `docker` group (which is root-equivalent)")
    return EngineUnavailable(f"cannot reach the Docker Engine at {host} ({source}): {START_HINT}")


def explain(exc: docker.errors.APIError) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


@contextmanager
def engine_errors(target: str, image: bool = False, host: str | None = None) -> Iterator[None]:
    """Convert the engine's exceptions raised inside into ReconcileErrors naming `target`."""
    try:
        yield
    except ReconcileError:
        raise
    except docker.errors.NotFound as exc:
        raise NotFound(target, explain(exc)) from None
    except docker.errors.APIError as exc:
        kind = ImageError if image else DriverError
        raise kind(target, explain(exc)) from None
    except requests.exceptions.Timeout:
        raise DriverError(target, f"the Docker Engine did not answer within {TIMEOUT}s") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if isinstance(exc, requests.exceptions.ConnectionError | docker.errors.DockerException):
            raise _unreachable(host or engine_host(), exc) from None
        raise DriverError(target, f"engine request failed: {exc}") from None


def not_found(exc: BaseException) -> bool:
    return isinstance(exc, docker.errors.NotFound)
