"""`reconcile status`: the control loop's own view, from its status file."""

from __future__ import annotations

import json
import time
from typing import Any

from reconciler.cli.context import Context
from reconciler.loop.status import read_status


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f" ({ts - time.time():+.1f}s)"


def render_status(doc: dict[str, Any]) -> list[str]:
    alive = "running" if doc["running"] else "NOT running (last status shown)"
    lines = [f"loop: pid {doc.get('pid')} {alive}; updated {_when(doc.get('updated_at'))}"]
    for stack in doc.get("stacks", []):
        state = "deleted" if stack.get("deleted") else ("invalid" if stack["problems"] else "ok")
        lines.append(f"stack {stack.get('stack') or '?'}  {stack['file']}  revision "
                     f"{stack.get('revision') or '-'}  applied {_when(stack.get('applied_at'))}"
                     f"  [{state}]")
        lines += [f"  error: {p}" for p in stack["problems"]]
    for name, c in sorted(doc.get("containers", {}).items()):
        extra = ""
        if c.get("next_attempt"):
            extra += f"  next attempt {_when(c['next_attempt'])}"
        if c.get("last_exits"):
            extra += f"  last exits {c['last_exits']}"
        lines.append(f"  {name:<28} {c.get('state', '?'):<12} health={c.get('health', 'none')}"
                     f"  restarts={c.get('restarts', 0)}{extra}")
    for orphan in doc.get("orphans", []):
        lines.append(f"  orphan {orphan} (kept; run with --prune to remove)")
    if doc.get("sync"):
        lines += render_sync(doc["sync"])
    if doc.get("last_error"):
        lines.append(f"last error: {doc['last_error']}")
    return lines


def _commit(c: dict[str, Any]) -> str:
    return f"{str(c.get('commit', ''))[:12]} by {c.get('author', '?')}: {c.get('subject', '')!r}"


def render_sync(sync: dict[str, Any]) -> list[str]:
    """`reconcile sync`: the repository, its head, and per stack what is in force."""
    head = sync.get("head")
    lines = [f"sync: {sync.get('repo')} {sync.get('ref')} (path {sync.get('path')}); head "
             f"{_commit(head) if head else '- (not fetched yet)'}; {sync.get('fetches', 0)} "
             f"fetch(es)" + (f"; webhook on {sync['webhook']}" if sync.get("webhook") else "")]
    if sync.get("fetch_error"):
        lines.append(f"  fetch error (the last good revision stays): {sync['fetch_error']}")
    for name, s in sorted((sync.get("stacks") or {}).items()):
        held = " [held by a rollback]" if s.get("held") else ""
        lines.append(f"  stack {name}: in force {str(s.get('commit') or '-')[:12]}{held}")
        if s.get("pending"):
            lines.append(f"    deploying {_commit(s['pending'])} (ready by "
                         f"{_when(s['pending'].get('deadline'))})")
        if s.get("failing"):
            f = s["failing"]
            lines.append(f"    failing commit {_commit(f)}: {f.get('result')}: {f.get('reason')}")
    return lines


def cmd_status(ctx: Context) -> int:
    doc = read_status(ctx.state_dir)
    if doc is None:
        ctx.out(f"no control loop status in {ctx.state_dir} (is `reconcile run` running?)")
        return 1
    if ctx.args.output == "json":
        ctx.out(json.dumps(doc, indent=2, sort_keys=True))
    else:
        ctx.out("\n".join(render_status(doc)))
    return 0 if doc["running"] else 1
