"""The v1 routes: JSON reads, streams and actions over `LoopView` (docs/api.md)."""

from __future__ import annotations

import json
from functools import partial
from importlib import resources
from typing import Any, cast

from reconciler import __version__
from reconciler.api.routes import HttpError, Request, Response, Router, StreamResponse
from reconciler.api.streams import event_stream, log_stream, stats_stream
from reconciler.api.view import LoopView, Verb

NDJSON = "application/x-ndjson"
MAX_TAIL = 100_000


def register(router: Router, view: LoopView) -> None:
    router.add("GET", "/v1/version", lambda r: Response.json(
        {"version": __version__, "api": "v1"}))
    router.add("GET", "/v1/openapi.json", lambda r: Response.json(openapi()))
    router.add("GET", "/v1/status", lambda r: Response.json(view.status()))
    router.add("GET", "/v1/stacks", lambda r: Response.json(view.stacks()))
    router.add("GET", "/v1/containers", lambda r: Response.json(
        view.containers(usage=r.arg("usage", "1") != "0")))
    router.add("GET", "/v1/containers/{name}", lambda r: Response.json(
        view.container(r.params["name"])))
    router.add("GET", "/v1/containers/{name}/logs", partial(_logs, view))
    router.add("GET", "/v1/containers/{name}/stats", partial(_stats, view))
    router.add("GET", "/v1/events", partial(_events, view))
    router.add("GET", "/v1/plan", lambda r: Response.json(view.plan()))
    router.add("POST", "/v1/apply", partial(_apply, view))
    for verb in ("restart", "stop", "start"):
        router.add("POST", f"/v1/containers/{{name}}/{verb}", partial(_act, view, verb))


def _logs(view: LoopView, r: Request) -> StreamResponse:
    tail = r.int_arg("tail")
    if tail is not None and not 0 <= tail <= MAX_TAIL:
        raise HttpError(400, f"tail: expected 0 to {MAX_TAIL}")
    try:
        since = float(r.arg("since") or 0) or None
    except ValueError:
        raise HttpError(400, "since: expected a Unix time") from None
    text = r.arg("format", "json") == "text"
    view.find(r.params["name"])  # 404 before the stream begins
    return StreamResponse(log_stream(view, r.params["name"], r.flag("follow"), tail, text,
                                     since), "text/plain; charset=utf-8" if text else NDJSON)


def _stats(view: LoopView, r: Request) -> Response | StreamResponse:
    name = r.params["name"]
    if r.arg("stream", "1") == "0":
        return Response.json(view.stats(name))
    view.find(name)
    try:
        interval = float(r.arg("interval") or 1.0)
    except ValueError:
        raise HttpError(400, "interval: expected seconds") from None
    return StreamResponse(stats_stream(view, name, max(0.2, min(interval, 60.0))), NDJSON)


def _events(view: LoopView, r: Request) -> Response | StreamResponse:
    """SSE, resumed after `Last-Event-ID` (or `?since=ID`); `?follow=0`: the kept events
    as one JSON list."""
    raw = r.headers.get("last-event-id") or r.arg("since")
    try:
        last_id = int(raw) if raw not in (None, "") else None
    except ValueError:
        raise HttpError(400, "Last-Event-ID: expected an event id") from None
    if r.arg("follow", "1") == "0":
        return Response.json([e.to_json() for e in view.events_since(last_id)])
    return StreamResponse(event_stream(view, last_id), "text/event-stream")


def _apply(view: LoopView, r: Request) -> Response:
    body = r.json()
    wait = body.get("wait", 60) if isinstance(body, dict) else None
    if not isinstance(wait, int | float) or isinstance(wait, bool) or not 0 <= wait <= 600:
        raise HttpError(400, "wait: expected seconds from 0 to 600")
    result = view.apply(float(wait))
    return Response.json(result, 200 if result["converged"] else 202)


def _act(view: LoopView, verb: str, r: Request) -> Response:
    return Response.json(view.act(cast(Verb, verb), r.params["name"]))


def openapi() -> dict[str, Any]:
    """The OpenAPI document, package data next to this module."""
    text = resources.files("reconciler.api").joinpath("openapi.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    doc.setdefault("info", {})["version"] = __version__
    return doc
