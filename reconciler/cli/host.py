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


def _image_store(ctx: Context) -> Any:
    if ctx.args.driver != "native":
        raise ReconcileError("`images` manages the native driver's store (use --driver native)")
    from reconciler.drivers.native.library import ImageLibrary

    return ImageLibrary(ctx.state_dir / "images", ctx.registry_options())


def _images_in_use(ctx: Context) -> set[str]:
    return {c.image_digest for c in ctx.driver.observe().containers}


def _pull(ctx: Context, store: Any) -> int:
    """`images pull REF...`: always asks the registry (like `pull: always`)."""
    from reconciler.model.desired import ImageSource
    from reconciler.model.reference import normalize_reference
    from reconciler.support.lock import state_lock

    if not ctx.args.refs:
        raise ReconcileError("images pull: name at least one image reference")
    for text in ctx.args.refs:
        try:
            ref = normalize_reference(text)
        except ValueError as exc:
            raise ReconcileError(str(exc)) from None
        image = ImageSource(key=text, kind="ref", identity=f"ref:{ref}", ref=ref, pull="always")
        with state_lock(ctx.state_dir):
            record = store.ensure(image)
        ctx.out(f"{ref} {record.digest}")
    return 0


def cmd_images(ctx: Context) -> int:
    store = _image_store(ctx)
    if ctx.args.verb == "rm":
        in_use = _images_in_use(ctx)
        for digest in ctx.args.refs:
            if digest in in_use:
                raise ReconcileError(f"image {digest} is used by a container; remove it first")
            store.remove(digest)
            ctx.out(f"removed {digest}")
        return 0
    if ctx.args.verb == "pull":
        return _pull(ctx, store)
    if ctx.args.verb == "prune":
        for digest in store.prune(_images_in_use(ctx)):
            ctx.out(f"removed {digest}")
        return 0
    rows = [{"digest": r.digest, "identity": r.identity, "size": r.size,
             "layers": len(r.layers)} for r in store.list()]
    if ctx.args.output == "json":
        ctx.out(json.dumps(rows, indent=2))
        return 0
    ctx.out(f"{'DIGEST':<20} {'SIZE':>10} {'LAYERS':>6}  SOURCE")
    for row in rows:
        ctx.out(f"{row['digest'][:19]:<20} {row['size'] / 2**20:>8.1f}Mi {row['layers']:>6}  "
                f"{row['identity'][:60]}")
    return 0


def host_info(ctx: Context) -> dict[str, Any]:
    from reconciler.drivers.native import hostinfo

    info: dict[str, Any] = {
        "version": __version__,
        "python": platform.python_version(),
        "kernel": os.uname().release,
        "driver": ctx.args.driver,
        "state_dir": str(ctx.state_dir),
    }
    try:
        mode = hostinfo.cgroup_mode()
        runtime = hostinfo.choose_runtime(mode, hostinfo.find_runtimes())
        info.update(cgroups=mode, runtime=f"{runtime.name} ({runtime.path})")
        if runtime.warning:
            info["runtime_warning"] = runtime.warning
    except ReconcileError as err:
        info["runtime_error"] = str(err)
    info["nofile_hard_limit"] = hostinfo.host_hard_limit("nofile")
    from reconciler.drivers.native.network.hostfacts import host_changes

    info["host_changes"] = host_changes(ctx.state_dir)
    return info


def cmd_info(ctx: Context) -> int:
    for key, value in host_info(ctx).items():
        ctx.out(f"{key + ':':<20} {value}")
    return 0


HOST_HANDLERS: dict[str, Callable[[Context], int]] = {
    "events": cmd_events,
    "images": cmd_images,
    "info": cmd_info,
}
