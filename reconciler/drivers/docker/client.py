"""The edge of the docker driver: the Engine API clients, and the one place where engine
errors (engine_api's, and the docker SDK's and requests' for what streams) become the
project's own errors.

Two clients: `connect()` gives the small JSON client (engine_api.py) every convergence
call uses; `sdk()` the docker SDK's APIClient for streams (pull, load, save, logs, exec,
stats, events), imported only then. The SDK is untyped; its client is an `Any` that does
not leave this package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.drivers.docker.engine_api import (
    API_VERSION,
    TIMEOUT,
    EngineAPI,
    EngineConnectionError,
    EngineHTTPError,
    EngineTimeout,
    UnsupportedHost,
)
from reconciler.model.errors import DriverError, ImageError, NotFound, ReconcileError

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Engine API 1.41 is Docker 20.10 (Debian 12's docker.io), the oldest one tested.
MIN_API = tuple(int(p) for p in API_VERSION.split("."))
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


def connect(host: str | None = None) -> EngineAPI:
    """The JSON client for `host` (default DOCKER_HOST, else the system socket), with the
    engine's API version checked (one GET /_ping)."""
    host = host or engine_host()
    try:
        api = EngineAPI(host)
        version = api.ping()
    except UnsupportedHost as exc:
        raise EngineUnavailable(str(exc)) from None
    except (EngineConnectionError, EngineHTTPError, EngineTimeout) as exc:
        raise _unreachable(host, exc) from None
    if _version_tuple(version) < MIN_API:
        raise EngineUnavailable(f"the Docker Engine at {host} speaks API {version or '?'}; "
                                f"reconcile needs {API_VERSION} or newer (Docker 20.10+): "
                                "upgrade the engine")
    return api


def sdk(host: str) -> Any:
    """The docker SDK's APIClient for the calls that stream (the engine was reached and its
    version checked by connect(): no negotiation round trip)."""
    import docker  # type: ignore[import-untyped]  # ~0.3 s: only when a stream is needed

    try:
        return docker.APIClient(base_url=host, version=API_VERSION, timeout=int(TIMEOUT))
    except docker.errors.DockerException as exc:
        raise _unreachable(host, exc) from None


def _unreachable(host: str, exc: BaseException) -> EngineUnavailable:
    text = str(exc)
    source = "DOCKER_HOST" if os.environ.get("DOCKER_HOST") else "the default socket"
    permission = getattr(exc, "permission", False)
    if permission or "Permission denied" in text or "PermissionError" in text:
        return EngineUnavailable(
            f"permission denied on the Docker socket {host} ({source}): run as root, or add "
            "your user to the `docker` group (which is root-equivalent)")
    return EngineUnavailable(f"cannot reach the Docker Engine at {host} ({source}): {START_HINT}")


def explain(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


@contextmanager
def engine_errors(target: str, image: bool = False, host: str | None = None) -> Iterator[None]:
    """Convert the engine's exceptions raised inside into ReconcileErrors naming `target`."""
    kind = ImageError if image else DriverError
    try:
        yield
    except ReconcileError:
        raise
    except EngineHTTPError as exc:
        raise (NotFound if exc.status == 404 else kind)(target, exc.message) from None
    except EngineTimeout:
        raise DriverError(target, f"the Docker Engine did not answer within {TIMEOUT:g}s") from None
    except EngineConnectionError as exc:
        raise _unreachable(host or engine_host(), exc) from None
    except Exception as exc:
        converted = _sdk_error(exc, target, kind, host)
        if converted is None:
            raise
        raise converted from None


def _sdk_error(exc: Exception, target: str, kind: type[DriverError],
               host: str | None) -> ReconcileError | None:
    """The SDK's and requests' exceptions; None for anything else (a bug: not hidden).
    Neither module is imported here: an exception of theirs means they already are."""
    errors, requests = sys.modules.get("docker.errors"), sys.modules.get("requests")
    if errors is not None and isinstance(exc, errors.NotFound):
        return NotFound(target, explain(exc))
    if errors is not None and isinstance(exc, errors.APIError):
        return kind(target, explain(exc))
    if requests is not None and isinstance(exc, requests.exceptions.Timeout):
        return DriverError(target, f"the Docker Engine did not answer within {TIMEOUT:g}s")
    if (errors is not None and isinstance(exc, errors.DockerException)) or (
            requests is not None and isinstance(exc, requests.exceptions.ConnectionError)):
        return _unreachable(host or engine_host(), exc)
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        return DriverError(target, f"engine request failed: {exc}")
    return None


def not_found(exc: BaseException) -> bool:
    if isinstance(exc, EngineHTTPError):
        return exc.status == 404
    errors = sys.modules.get("docker.errors")
    return errors is not None and isinstance(exc, errors.NotFound)
