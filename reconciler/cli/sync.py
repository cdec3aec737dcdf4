"""`reconcile sync`, `history` and `rollback`: git as the desired state (docs/sync.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.cli.context import Context
from reconciler.loop.gitsync import REQUESTS, GitSync, SyncConfig
from reconciler.loop.history import History
from reconciler.loop.status import read_status
from reconciler.model.errors import ReconcileError
from reconciler.spec.units import parse_duration
from reconciler.support.atomic import write_json
from reconciler.support.lockprobe import lock_held


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ReconcileError(f"--webhook {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9000")
    return host.strip("[]"), int(port)


def _repo(text: str) -> str:
    """A local repository as an absolute path (git runs in the mirror's folder)."""
    path = Path(text).expanduser()
    return str(path.absolute()) if "://" not in text and path.exists() else text


def _secret(args: Any) -> bytes:
    if not args.webhook:
        return b""
    if not args.webhook_secret_file:
        raise ReconcileError("--webhook needs --webhook-secret-file (the HMAC secret)")
    try:
        secret = Path(args.webhook_secret_file).read_bytes().strip()
    except OSError as exc:
        raise ReconcileError(f"{args.webhook_secret_file}: cannot read: {exc}") from exc
    if not secret:
        raise ReconcileError(f"{args.webhook_secret_file}: the webhook secret is empty")
    return secret


def sync_config(args: Any) -> SyncConfig:
    path = PurePosixPath(args.path)
    if path.is_absolute() or ".." in path.parts:
        raise ReconcileError(f"--path {args.path!r}: a folder inside the repository is expected")
    if args.verify_signatures and not args.keyring:
        raise ReconcileError("--verify-signatures needs --keyring DIR (a GnuPG home holding "
                             "the keys allowed to sign)")
    return SyncConfig(
        repo=_repo(args.repo), ref=args.ref, path=str(path),
        interval=parse_duration(args.interval),
        keyring=Path(args.keyring).absolute() if args.verify_signatures else None,
        webhook=_address(args.webhook) if args.webhook else None, webhook_secret=_secret(args),
        health_deadline=parse_duration(args.health_deadline))


def cmd_sync(ctx: Context) -> int:
    from reconciler.loop.control import Loop

    sync = GitSync(sync_config(ctx.args), ctx.state_dir)
    loop = Loop(ctx.driver, ctx.state_dir, [sync.source()], prune=ctx.args.prune,
                resync=parse_duration(ctx.args.resync), parallelism=ctx.args.parallelism,
                feeder=sync, stacks=sync.stack_set())
    from reconciler.cli.serve import run_serving

    return run_serving(ctx, loop)


def _in_force(ctx: Context, stack: str) -> str:
    doc = read_status(ctx.state_dir) or {}
    return str(((doc.get("sync") or {}).get("stacks") or {}).get(stack, {}).get("commit", ""))


def cmd_history(ctx: Context) -> int:
    entries = History(ctx.state_dir).entries(ctx.args.stack)
    if ctx.args.output == "json":
        ctx.out(json.dumps(entries, indent=2, sort_keys=True))
        return 0
    if not entries:
        ctx.out(f"no applied revisions of stack {ctx.args.stack!r} in {ctx.state_dir}")
        return 1
    current = _in_force(ctx, ctx.args.stack)
    lines = [f"  {'COMMIT':<12}  {'APPLIED':<19}  {'RESULT':<11}  {'BY':<8}  SUBJECT"]
    for e in reversed(entries):  # newest first, like git log; * the newest entry in force
        mark = "*" if e.get("commit") == current and e.get("result") == "ok" else " "
        current = "" if mark == "*" else current
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.get("applied_at", 0)))
        lines.append(f"{mark} {str(e.get('commit', ''))[:12]:<12}  {when}  "
                     f"{e.get('result', '?'):<11}  {e.get('action', 'sync'):<8}  "
                     f"{e.get('subject', '')}")
        if e.get("reason"):
            lines.append(f"{'':16}{e['reason']}")
    ctx.out("\n".join(lines))
    return 0


def cmd_rollback(ctx: Context) -> int:
    """Ask the running sync loop (a request file, like user stops) to put a revision back."""
    stack, rev = ctx.args.stack, ctx.args.revision or ""
    history = History(ctx.state_dir)
    target = (history.find(stack, rev) if rev
              else history.previous_good(stack, _in_force(ctx, stack)))
    if target is None:
        raise ReconcileError(f"stack {stack!r}: no revision " + (
            f"matching {rev!r} was applied ok" if rev else "applied ok before the current one")
            + " (see `reconcile history " + stack + "`)")
    commit = str(target["commit"])
    request = ctx.state_dir / REQUESTS / f"{stack}.json"
    write_json(request, {"stack": stack, "commit": commit, "requested_at": time.time()})
    doc = read_status(ctx.state_dir)
    if doc is None or not doc["running"] or "sync" not in doc or not lock_held(ctx.state_dir):
        ctx.out(f"rollback of {stack} to {commit[:12]} queued; `reconcile sync` applies it "
                "when it starts")
        return 0
    deadline = time.monotonic() + parse_duration(ctx.args.timeout)
    while time.monotonic() < deadline:
        if not request.exists() and _in_force(ctx, stack) == commit:
            ctx.out(f"rolled back {stack} to {commit[:12]} ({target.get('subject', '')})")
            return 0
        time.sleep(0.1)
    raise ReconcileError(f"rollback of {stack} to {commit[:12]} not done within "
                         f"{ctx.args.timeout}; see `reconcile status` and `reconcile events`")


HANDLERS = {"sync": cmd_sync, "history": cmd_history, "rollback": cmd_rollback}
