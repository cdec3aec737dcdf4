"""Commands that operate on running containers: ps, inspect, logs, exec, stats, kill, ..."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.cli.context import Context
from reconciler.cli.host import HOST_HANDLERS, since_time
from reconciler.drivers.base import ExecRequest
from reconciler.model import labels
from reconciler.model.errors import NotFound, ReconcileError
from reconciler.model.hashing import mask_secrets
from reconciler.model.observed import ObservedContainer
from reconciler.model.records import asdict


def container_name(ref: str) -> str:
    """`shop/web` and `shop-web` both name container web of stack shop."""
    return ref.replace("/", "-", 1) if "/" in ref else ref


def _find(ctx: Context, ref: str) -> ObservedContainer:
    name = container_name(ref)
    for c in ctx.driver.observe().containers:
        if c.name == name:
            return c
    raise NotFound(name, "no such container owned by reconcile")


def since_text(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    secs = max(0, int(now - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def limits_text(lim: Mapping[str, Any]) -> str:
    parts = []
    if lim.get("memory"):
        parts.append(f"mem={lim['memory'] // (1024 * 1024)}Mi")
    if lim.get("cpus"):
        parts.append(f"cpus={lim['cpus']}")
    if lim.get("pids"):
        parts.append(f"pids={lim['pids']}")
    return ",".join(parts) or "-"


def ps_row(c: ObservedContainer, now: float) -> dict[str, Any]:
    since = c.started_at if c.state in ("running", "paused") else c.finished_at or c.created_at
    limits = (c.recorded_spec or {}).get("limits") or {}
    return {
        "name": c.name, "stack": c.stack,
        "image": labels.image_name(c.labels, c.recorded_spec, c.image_digest),
        "image_digest": c.image_digest, "state": c.state,
        "since": since_text(since, now), "exit_code": c.exit_code, "oom_killed": c.oom_killed,
        "restarts": c.restart_count, "pid": c.pid, "health": c.health,
        "limits": limits_text(limits), "addresses": list(c.addresses),
        "ports": list((c.recorded_spec or {}).get("ports", [])), "drift": list(c.drift),
        **provenance(c),
    }


def provenance(c: ObservedContainer) -> dict[str, str | None]:
    """Where a container's spec came from: its stack file and, from git, the commit."""
    return {"source": c.labels.get(labels.SOURCE) or None,
            "commit": c.labels.get(labels.SOURCE_COMMIT) or None}


def cmd_ps(ctx: Context) -> int:
    stacks = frozenset(ctx.args.stacks) or None
    containers = sorted(ctx.driver.observe(stacks).containers, key=lambda c: c.name)
    now = time.time()
    rows = [ps_row(c, now) for c in containers]
    from reconciler.loop.status import overlay_ps

    overlay_ps(ctx.state_dir, rows)  # a running control loop knows backoff and health
    return print_ps(ctx, rows, now)


def print_ps(ctx: Context, rows: list[dict[str, Any]], now: float) -> int:
    """The rows as JSON or a table (also the rows a loop's API gave: cli/remote.py)."""
    if ctx.args.output == "json":
        ctx.out(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    cols = ["name", "image", "state", "since", "exit_code", "restarts", "pid", "limits",
            "addresses", "ports"]
    if any("next_attempt" in row for row in rows):
        cols += ["health", "next_attempt", "last_exits"]
    for col in cols:
        table.add_column(col.upper().replace("_", " "))
    for row in rows:
        exit_code = row["exit_code"]
        if row["oom_killed"]:
            exit_code = f"{exit_code} (oom)"
        values = {**row, "exit_code": exit_code, "addresses": ",".join(row["addresses"]) or "-",
                  "ports": ",".join(row["ports"]) or "-"}
        if row.get("next_attempt"):
            values["next_attempt"] = f"in {max(0.0, row['next_attempt'] - now):.1f}s"
        values["last_exits"] = ",".join(map(str, row.get("last_exits") or [])) or None
        table.add_row(*("-" if values[c] is None else str(values[c]) for c in cols))
    Console(width=200, no_color=not ctx.color).print(table)
    return 0


def cmd_inspect(ctx: Context) -> int:
    c = _find(ctx, ctx.args.name)
    data = {**asdict(c), "provenance": provenance(c), **ctx.driver.inspect(c.name)}
    if not ctx.args.show_secrets:  # the rule plans use: by name, and URL passwords
        data = mask_secrets(data)
    ctx.out(json.dumps(data, indent=2, default=str, sort_keys=True))
    return 0


def cmd_logs(ctx: Context) -> int:
    since = None
    if ctx.args.since:
        since = since_time(ctx.args.since)
    name = container_name(ctx.args.name)
    for line in ctx.driver.logs(name, follow=ctx.args.follow, tail=ctx.args.tail, since=since):
        stream = sys.stdout if line.stream == "stdout" else sys.stderr
        stream.write(line.text if line.text.endswith("\n") else line.text + "\n")
        stream.flush()
    return 0


def cmd_exec(ctx: Context) -> int:
    argv = list(ctx.args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise ReconcileError("exec needs a command after --")
    env = tuple(tuple(e.split("=", 1)) for e in ctx.args.env if "=" in e)
    request = ExecRequest(argv=argv, tty=ctx.args.tty, interactive=ctx.args.interactive,
                          env=env, user=ctx.args.user, workdir=ctx.args.workdir)  # type: ignore[arg-type]
    return ctx.driver.exec(container_name(ctx.args.name), request)


def cmd_stats(ctx: Context) -> int:
    names = [container_name(n) for n in ctx.args.names] or sorted(
        c.name for c in ctx.driver.observe().containers if c.state == "running")
    stats = [ctx.driver.stats(n) for n in names]
    if ctx.args.output == "json":
        ctx.out(json.dumps([asdict(s) for s in stats], indent=2))
        return 0
    ctx.out(f"{'NAME':<28} {'CPU %':>7} {'MEM USAGE / LIMIT':>24} {'PIDS':>5}")
    for s in stats:
        limit = f"{s.memory_limit / 2**20:.1f}MiB" if s.memory_limit else "unlimited"
        mem = f"{s.memory_usage / 2**20:.1f}MiB / {limit}"
        ctx.out(f"{s.name:<28} {s.cpu_percent:>6.1f}% {mem:>24} {s.pids:>5}")
    return 0


def cmd_pause(ctx: Context) -> int:
    name = container_name(ctx.args.name)
    ctx.driver.pause(name)
    ctx.out(f"pause: {name}")
    return 0


def cmd_unpause(ctx: Context) -> int:
    name = container_name(ctx.args.name)
    ctx.driver.unpause(name)
    ctx.out(f"unpause: {name}")
    return 0


def cmd_kill(ctx: Context) -> int:
    name = container_name(ctx.args.name)
    ctx.driver.kill(name, ctx.args.signal)
    ctx.out(f"kill {ctx.args.signal}: {name}")
    return 0


def cmd_stop(ctx: Context) -> int:
    """The intent is recorded first, so a control loop that sees the death never undoes it;
    the loop decides nothing meanwhile (decision_lock)."""
    from reconciler.loop.intents import mark_stopped
    from reconciler.support.lock import decision_lock

    name = container_name(ctx.args.name)
    _find(ctx, name)
    with decision_lock(ctx.state_dir):
        mark_stopped(ctx.state_dir, name)
        ctx.driver.stop(name)
    ctx.out(f"stop: {name}")
    return 0


def cmd_start(ctx: Context) -> int:
    from reconciler.loop.intents import clear_stopped
    from reconciler.support.lock import decision_lock

    name = container_name(ctx.args.name)
    with decision_lock(ctx.state_dir):
        ctx.driver.start(name)
        clear_stopped(ctx.state_dir, name)
    ctx.out(f"start: {name}")
    return 0


def cmd_restart(ctx: Context) -> int:
    """Stop (stop_signal, grace period) and start again, the user-stopped marker held
    meanwhile so a running loop does not race us to restart it; it runs afterwards, as
    after `start`."""
    from reconciler.loop.intents import clear_stopped, mark_stopped
    from reconciler.support.lock import decision_lock

    name = container_name(ctx.args.name)
    _find(ctx, name)
    with decision_lock(ctx.state_dir):
        mark_stopped(ctx.state_dir, name)
        try:
            ctx.driver.stop(name)
            ctx.driver.start(name)
        finally:
            clear_stopped(ctx.state_dir, name)
    ctx.out(f"restart: {name}")
    return 0



HANDLERS: dict[str, Callable[[Context], int]] = {
    "ps": cmd_ps,
    "inspect": cmd_inspect,
    "logs": cmd_logs,
    "exec": cmd_exec,
    "stats": cmd_stats,
    "kill": cmd_kill,
    "pause": cmd_pause,
    "unpause": cmd_unpause,
    "stop": cmd_stop,
    "start": cmd_start,
    "restart": cmd_restart,
    **HOST_HANDLERS,
}
