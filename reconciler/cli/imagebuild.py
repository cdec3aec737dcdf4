"""`reconcile images build -t REF [-f Dockerfile] [--build-arg K=V] [--target T]
[--no-cache] [--network] CONTEXT`: print the steps and the final digest."""

from __future__ import annotations

import os
import time
from pathlib import Path

from reconciler.cli.context import Context
from reconciler.model.build import BuildRequest
from reconciler.model.errors import ReconcileError


def build_args(values: list[str]) -> dict[str, str]:
    """NAME=VALUE, or NAME alone taking the value from the environment (docker's rule);
    errors name the argument, never its value."""
    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not name:
            raise ReconcileError("--build-arg: expected NAME=VALUE")
        if not sep:
            if name not in os.environ:
                continue  # docker skips an unset one too
            value = os.environ[name]
        result[name] = value
    return result


def cmd_build(ctx: Context) -> int:
    from reconciler.support.lock import state_lock

    args = ctx.args
    if len(args.refs) != 1:
        raise ReconcileError("images build: name exactly one CONTEXT folder")
    context = Path(args.refs[0]).resolve()
    if not context.is_dir():
        raise ReconcileError(f"images build: context {args.refs[0]} is not a folder")
    dockerfile = args.file.resolve() if args.file else None
    request = BuildRequest(context, dockerfile, build_args(args.build_arg), args.target,
                           args.no_cache, args.network)  # fmt: skip
    started = time.monotonic()
    with state_lock(ctx.state_dir):
        result = ctx.driver.build_dockerfile(request, list(args.tag), ctx.out)
        _settle(ctx, request, result.digest)
    for name in result.unused_args:
        ctx.out(f"warning: --build-arg {name} was not used by any ARG")
    ran = sum(1 for s in result.steps if s.ran)
    cached = sum(1 for s in result.steps if s.cached)
    ctx.out(f"built {result.digest} ({ran} steps run, {cached} cached, "
            f"{time.monotonic() - started:.2f}s)")
    for tag in args.tag:
        ctx.out(f"tagged {tag}")
    return 0


def _settle(ctx: Context, request: BuildRequest, digest: str) -> None:
    """The next identical build is answered from a record (cli/settled.py), kept when the
    same build again runs no step: a pass of ~20-40 ms after a build that ran steps. After
    `--no-cache`, for the same words without it: that build would now come from the cache."""
    from reconciler.cli import settle, settled
    from reconciler.model.records import replace

    plain = [word for word in ctx.words if word != "--no-cache"]
    found = settled.key_for(plain) if ctx.injected_driver is None else None
    if found is not None:
        settle.settle_build(ctx, found[1], replace(request, no_cache=False),
                            list(ctx.args.tag), digest)  # fmt: skip
