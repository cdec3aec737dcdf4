"""Host-level commands: events, images, info."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from reconciler import __version__
from reconciler.cli.context import Context
from reconciler.model.errors import ReconcileError
from reconciler.model.records import asdict
from reconciler.spec.units import parse_duration
from reconciler.support.events import read_events


def since_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return time.time() - parse_duration(value)
    return number if number > 1e9 else time.time() - number


def _event_line(event: dict[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.get("time", 0)))
    extra = " ".join(f"{k}={v}" for k, v in sorted(event.items())
                     if k not in ("time", "type", "name"))
    return f"{stamp} {event.get('type', '?'):<10} {event.get('name', '')} {extra}".rstrip()


def cmd_events(ctx: Context) -> int:
    since = since_time(ctx.args.since)
    for event in read_events(ctx.state_dir, since=since, follow=ctx.args.follow):
        ctx.out(json.dumps(event) if ctx.args.output == "json" else _event_line(event))
    return 0


def _images_in_use(ctx: Context) -> frozenset[str]:
    return frozenset(c.image_digest for c in ctx.driver.observe().containers)


def _pull(ctx: Context) -> int:
    """`images pull REF...`: always asks the registry (like `pull: always`)."""
    from reconciler.support.lock import state_lock

    if not ctx.args.refs:
        raise ReconcileError("images pull: name at least one image reference")
    for ref in ctx.args.refs:
        with state_lock(ctx.state_dir):
            digest = ctx.driver.pull_image(ref)
        ctx.out(f"{ref} {digest}")
    return 0


def _push(ctx: Context) -> int:
    """`images push REF [--from LOCALREF]`: prints the pushed `name@sha256:...`."""
    from reconciler.support.lock import state_lock

    if len(ctx.args.refs) != 1:
        raise ReconcileError("images push: name one image reference (REF [--from LOCALREF])")
    with state_lock(ctx.state_dir):
        ctx.out(ctx.driver.push_image(ctx.args.refs[0], ctx.args.source))
    return 0


def _tag(ctx: Context) -> int:
    """`images tag SRC DST`: the local image SRC is known as DST too."""
    from reconciler.support.lock import state_lock

    if len(ctx.args.refs) != 2:
        raise ReconcileError("images tag: name the image and its new reference (SRC DST)")
    source, ref = ctx.args.refs
    with state_lock(ctx.state_dir):
        digest = ctx.driver.tag_image(source, ref)
    ctx.out(f"{ref} {digest}")
    return 0


def cmd_images(ctx: Context) -> int:
    driver = ctx.driver
    if ctx.args.verb == "rm":
        in_use = _images_in_use(ctx)
        for digest in ctx.args.refs:
            if digest in in_use:
                raise ReconcileError(f"image {digest} is used by a container; remove it first")
            driver.remove_image(digest)
            ctx.out(f"removed {digest}")
        return 0
    if ctx.args.verb == "pull":
        return _pull(ctx)
    if ctx.args.verb == "push":
        return _push(ctx)
    if ctx.args.verb == "tag":
        return _tag(ctx)
    if ctx.args.verb == "build":
        from reconciler.cli.imagebuild import cmd_build

        return cmd_build(ctx)
    if ctx.args.verb == "prune":
        for digest in driver.prune_images(_images_in_use(ctx)):
            ctx.out(f"removed {digest}")
        return 0
    images = driver.list_images()
    if ctx.args.output == "json":
        ctx.out(json.dumps([asdict(i) for i in images], indent=2))
        return 0
    ctx.out(f"{'DIGEST':<20} {'SIZE':>10} {'LAYERS':>6}  SOURCE")
    for image in images:
        ctx.out(f"{image.digest[:19]:<20} {image.size / 2**20:>8.1f}Mi {image.layers:>6}  "
                f"{image.identity[:60]}")
    return 0


def host_info(ctx: Context) -> dict[str, Any]:
    return {
        "version": __version__,
        "python": platform.python_version(),
        "kernel": os.uname().release,
        "driver": ctx.args.driver,
        "state_dir": str(ctx.state_dir),
        **ctx.driver.host_facts(),
    }


def cmd_info(ctx: Context) -> int:
    for key, value in host_info(ctx).items():
        ctx.out(f"{key + ':':<20} {value}")
    return 0


HOST_HANDLERS: dict[str, Callable[[Context], int]] = {
    "events": cmd_events,
    "images": cmd_images,
    "info": cmd_info,
}
