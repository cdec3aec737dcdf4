"""Requests, responses and the router: `{name}` patterns matched segment by segment.

A handler takes a `Request` and returns a `Response` (a whole body) or a `StreamResponse`
(an iterator of byte chunks, written as they come: SSE, followed logs, stats). Other modules
add their routes with `Router.add` from a registrar `register(router, view)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from reconciler.model.records import field, record


class HttpError(Exception):
    """Raised by a handler (or the router) to answer `status` with a JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@record(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)  # from the pattern's {name}s
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""  # bounded by the server

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() in ("1", "true", "yes")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        text = self.arg(name)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise HttpError(400, f"query parameter {name!r}: expected an integer") from None

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(400, "request body: expected JSON") from None


@record
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        body = json.dumps(data, indent=2, sort_keys=True, default=str).encode() + b"\n"
        return cls(status, body, {"Content-Type": "application/json"})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


@record
class StreamResponse:
    """Written chunk by chunk (HTTP/1.1 chunked); `close` runs when the client is gone or
    the iterator ended, so producers stop."""

    chunks: Iterator[bytes]
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    close: Callable[[], None] | None = None


Handler = Callable[[Request], Response | StreamResponse]


@record(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    parts: tuple[str, ...]


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern`: `/v1/containers/{name}/logs`; a `{name}` part matches one segment."""
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern {pattern!r}: must start with /")
        route = Route(method.upper(), pattern, handler, _split(pattern))
        if any(r.method == route.method and _shape(r.parts) == _shape(route.parts)
               for r in self.routes):
            raise ValueError(f"route {method} {pattern} added twice")
        self.routes.append(route)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and path parameters; HttpError 404 (no such path) or 405."""
        parts = _split(path)
        allowed = []
        for route in self.routes:
            params = _bind(route.parts, parts)
            if params is None:
                continue
            if route.method == method.upper() or (method.upper() == "HEAD"
                                                  and route.method == "GET"):
                return route.handler, params
            allowed.append(route.method)
        if allowed:
            raise HttpError(405, f"{method} not allowed here (allowed: {', '.join(allowed)})")
        raise HttpError(404, "no such endpoint")


def _split(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p) or ("",)


def _shape(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("{}" if p.startswith("{") else p for p in parts)


def _bind(pattern: tuple[str, ...], parts: tuple[str, ...]) -> dict[str, str] | None:
    if len(pattern) != len(parts):
        return None
    params = {}
    for want, got in zip(pattern, parts, strict=True):
        if want.startswith("{") and want.endswith("}"):
            if not got:
                return None
            params[want[1:-1]] = unquote(got)
        elif want != got:
            return None
    return params
