"""The web dashboard at `/`, on the API's listener and behind its auth (docs/api.md).

Server-rendered: `/` is the whole page, `/dashboard/fragments/{stacks,plan}` the parts the
page's script swaps in when the loop's event feed says something changed (so the one
escaping renderer, render.py, makes every piece of HTML). The live parts are plain
JavaScript in app.js over the v1 API: the event feed (SSE), a container's log tail and a
chart fed by its stats stream, and the restart/stop/start buttons, which POST same-origin
(the API's CSRF rules accept them) after a confirmation. No build step, no CDN.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from reconciler import __version__
from reconciler.api.dashboard import render

if TYPE_CHECKING:
    from reconciler.api.routes import Request, Response, Router

STATIC = {"style.css": "text/css", "app.js": "text/javascript"}
# The page's own files only: no inline script or style, no other origin, never framed.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


USAGE_WORKERS = 8  # stats samples taken at once (each waits ~0.1 s between two readings)


class DashboardSource(Protocol):
    def status(self) -> dict[str, Any]: ...
    def stacks(self) -> list[dict[str, Any]]: ...
    def containers(self, usage: bool = True) -> list[dict[str, Any]]: ...
    def stats(self, name: str) -> dict[str, Any]: ...
    def plan(self) -> dict[str, Any]: ...


def _html(text: str) -> Response:
    from reconciler.api.routes import Response

    response = Response.text(text, content_type="text/html")
    response.headers.update(HEADERS)
    return response


def stacks_fragment(view: DashboardSource) -> str:
    return render.stacks_html(view.stacks(), with_usage(view))


def with_usage(view: DashboardSource) -> list[dict[str, Any]]:
    """The container rows with their usage, sampled in parallel: one after the other, a
    stack of 50 would take 5 s per refresh."""
    from concurrent.futures import ThreadPoolExecutor

    rows = view.containers(usage=False)
    running = [r for r in rows if r.get("observed_state", r.get("state")) == "running"]

    def sample(row: dict[str, Any]) -> None:
        try:
            row["usage"] = view.stats(row["name"])
        except Exception:  # a container that just stopped: no usage, not an error
            row["usage"] = None

    if running:
        with ThreadPoolExecutor(max_workers=min(USAGE_WORKERS, len(running))) as pool:
            list(pool.map(sample, running))
    return rows


def plan_fragment(view: DashboardSource) -> str:
    return render.plan_html(view.plan())


def page(view: DashboardSource) -> str:
    return render.page(host=os.uname().nodename, pid=view.status().get("pid", "–"),
                       version=__version__, stacks=stacks_fragment(view),
                       plan=plan_fragment(view))


def static_file(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def register(router: Router, view: DashboardSource) -> None:
    from reconciler.api.routes import HttpError, Response

    files = {name: static_file(name) for name in STATIC}  # read once: package data

    def static(request: Request) -> Response:
        name = request.params["file"]
        if name not in STATIC:
            raise HttpError(404, "no such file")
        return Response(200, files[name], {"Content-Type": f"{STATIC[name]}; charset=utf-8"})

    router.add("GET", "/", lambda r: _html(page(view)))
    router.add("GET", "/dashboard/fragments/stacks", lambda r: _html(stacks_fragment(view)))
    router.add("GET", "/dashboard/fragments/plan", lambda r: _html(plan_fragment(view)))
    router.add("GET", "/dashboard/{file}", static)
