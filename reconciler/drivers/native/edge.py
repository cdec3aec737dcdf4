"""The native driver's error edge: only the project's own errors leave NativeDriver.

Every public method of NativeDriver runs inside `backend_errors`: an OSError, a
subprocess error or a damaged JSON record raised anywhere below becomes one DriverError
that names the container (or image, volume) and the operation, and keeps the original
as its cause. Messages carry the system's reason and the path, never a file's content.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from reconciler.model.errors import DriverError, ImageError, ReconcileError


def backend_error_types() -> tuple[type[BaseException], ...]:
    """What a backend raises. A function, called once something was raised, so that a
    command whose driver runs no program (`images build` from the cache) does not import
    subprocess."""
    import subprocess

    return (OSError, subprocess.SubprocessError, json.JSONDecodeError)


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """What failed, without the data: strerror and path(s), a command and its status."""
    import subprocess

    if isinstance(exc, OSError):
        paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
        reason = exc.strerror or type(exc).__name__
        return f"{reason}: {' -> '.join(paths)}" if paths else reason
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{_program(exc.cmd)} exited with status {exc.returncode}"
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"{_program(exc.cmd)} did not finish within {exc.timeout:g}s"
    if isinstance(exc, json.JSONDecodeError):  # its str() is safe; .doc holds the content
        return f"damaged JSON record ({exc.msg} at line {exc.lineno} column {exc.colno})"
    return type(exc).__name__


def _program(cmd: Any) -> str:
    first = cmd[0] if isinstance(cmd, list | tuple) and cmd else cmd
    return os.path.basename(str(first))


@contextmanager
def backend_errors(target: str, what: str, *, image: bool = False) -> Iterator[None]:
    """Convert a backend exception into DriverError("<target>: <what> failed: <reason>");
    ImageError instead for an image operation. The project's own errors pass untouched."""
    try:
        yield
    except ReconcileError:
        raise
    except backend_error_types() as exc:
        kind = ImageError if image else DriverError
        raise kind(target, f"{what} failed: {describe(exc)}") from exc


def target_of(args: tuple[Any, ...]) -> str:
    """The name a public method acts on: its first argument (a name, a spec, an image)."""
    if not args:
        return "native driver"
    first = args[0]
    if isinstance(first, str):
        return first
    for attribute in ("full_name", "name", "key"):  # VolumeSpec, ContainerSpec, ImageSource
        value = getattr(first, attribute, None)
        if isinstance(value, str) and value:
            return value
    return "native driver"


def edge(what: str, *, image: bool = False) -> Callable[[F], F]:
    """Decorate a NativeDriver method: its backend errors leave as DriverError."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with backend_errors(target_of(args), what, image=image):
                return method(self, *args, **kwargs)

        return cast(F, wrapper)

    return decorate


def guarded(target: str, what: str, items: Iterator[T]) -> Iterator[T]:
    """An iterator whose backend errors, raised while it is consumed, leave converted."""
    with backend_errors(target, what):
        yield from items
