"""`images push` and `images tag` through the Engine API: the engine does the upload.

The engine pushes what it has under the name pushed, so `--from` tags the source first
(`POST /images/{source}/tag`), as `docker tag` + `docker push` do. The push is
`POST /images/{name}/push?tag=` with `X-Registry-Auth`: credentials found for the
registry in the user's Docker config (the engine keeps none of its own), or an empty
object (the engine refuses the request without the header). The JSON stream reports
progress per layer and ends with `aux.Digest`, the manifest digest the registry took.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.drivers.base import Progress
from reconciler.drivers.docker.client import engine_errors
from reconciler.drivers.docker.engine_api import EngineAPI, path_of
from reconciler.model.errors import ImageError, ReconcileError
from reconciler.model.reference import Reference, parse_reference


def _parsed(ref: str) -> Reference:
    try:
        parsed = parse_reference(ref)
    except ValueError as exc:
        raise ReconcileError(str(exc)) from None
    if parsed.digest:
        raise ReconcileError(f"{ref}: push and tag take a tag, not a digest")
    return parsed


def tag(engine: EngineAPI, host: str, source: str, ref: str) -> Reference:
    """Give the engine's image `source` the name `ref` too."""
    parsed = _parsed(ref)
    with engine_errors(source, image=True, host=host):
        engine.status("POST", f"/images/{path_of(source)}/tag",
                      {"repo": parsed.repository, "tag": parsed.tag or "latest"})  # fmt: skip
    return parsed


def push(engine: EngineAPI, api: Any, host: str, ref: str, source: str | None,
         progress: Progress | None) -> str:  # fmt: skip
    """Push `source` (default `ref`) as `ref`; return `name@sha256:...`."""
    parsed = tag(engine, host, source, ref) if source else _parsed(ref)
    with engine_errors(ref, image=True, host=host):
        stream = api.push(parsed.repository, tag=parsed.tag or "latest", stream=True,
                          decode=True, auth_config=_auth_config(parsed.domain))  # fmt: skip
        digest = _follow(iter(stream), ref, progress)
    return f"{parsed.repository}@{digest}"


def _auth_config(domain: str) -> dict[str, Any]:
    from docker import auth  # type: ignore[import-untyped]  # the SDK is loaded already

    registry = "https://index.docker.io/v1/" if domain == "docker.io" else domain
    found = auth.resolve_authconfig(auth.load_config(), registry)
    return dict(found) if found else {}


def _follow(chunks: Iterator[Any], target: str, progress: Progress | None) -> str:
    """Progress out of the stream; its error as an ImageError; the digest at its end."""
    digest = ""
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            raise ImageError(target, str(chunk["error"]).strip())
        aux = chunk.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
            digest = aux["Digest"]
        detail = chunk.get("progressDetail") or {}
        if progress is not None and detail.get("current") is not None:
            what = f"{chunk.get('id', target)} {chunk.get('status', '')}".strip()
            progress(what, int(detail["current"]), detail.get("total"))
    if not digest:
        raise ImageError(target, "the engine's push ended without the pushed digest")
    return digest
