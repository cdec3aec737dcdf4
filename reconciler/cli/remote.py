"""Commands through a running loop's API: when `--host` (or RECONCILE_HOST) names one,
or when the loop of `--state-dir` answers on its socket, `apply`, `ps`, `logs`, `stop`,
`start` and `restart` ask it instead of refusing because it holds the lock (docs/api.md).

The probe is cheap on purpose (every `apply` makes it): a stat of the socket path, and a
connect only when a socket is there; the client (http.client, ssl) is imported only then.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler.cli.context import Context
from reconciler.model.errors import ReconcileError

RUN_SOCKET = Path("/run/reconcile/api.sock")
DEFAULT_STATE_DIR = Path("/var/lib/reconcile")
COMMANDS = ("apply", "ps", "logs", "stop", "start", "restart")


def default_socket(state_dir: Path) -> Path:
    """/run/reconcile/api.sock for the default state dir; `<state_dir>/api.sock` for any
    other, so that loops on private state dirs (tests, a second instance) never meet."""
    if state_dir.absolute() == DEFAULT_STATE_DIR:
        return RUN_SOCKET
    return state_dir.absolute() / "api.sock"


def answers(path: Path) -> bool:
    try:
        if not path.is_socket():
            return False
    except OSError:
        return False
    import socket  # only when there is a socket to try

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def loop_client(ctx: Context) -> Any:
    """An ApiClient of the loop to talk to, or None (no --host, no loop answering)."""
    url = getattr(ctx.args, "host", None)
    if not url:
        path = default_socket(ctx.state_dir)
        if not answers(path):
            return None
        url = f"unix://{path}"
    from reconciler.api.auth import read_token
    from reconciler.api.client import ApiClient

    token_file = getattr(ctx.args, "token_file", None)
    token = read_token(Path(token_file)) if token_file and not url.startswith("unix:") else None
    return ApiClient(url, token, getattr(ctx.args, "tls_ca", None))


def remote_handler(ctx: Context) -> Callable[[Context], int] | None:
    """The API's version of the command when a loop is there to answer it."""
    command = ctx.args.command
    if command not in COMMANDS:
        return None
    if command == "apply" and (ctx.args.dry_run or ctx.args.saved_plan is not None):
        return None  # a dry run needs no lock; a saved plan is applied as saved, or refused
    client = loop_client(ctx)
    if client is None:
        return None
    handlers: dict[str, Callable[[Context, Any], int]] = {
        "apply": _apply, "ps": _ps, "logs": _logs,
        "stop": _act, "start": _act, "restart": _act}
    handler = handlers[command]
    return lambda c: handler(c, client)


def _name(ctx: Context) -> str:
    ref: str = ctx.args.name
    return ref.replace("/", "-", 1) if "/" in ref else ref


def _act(ctx: Context, client: Any) -> int:
    name = _name(ctx)
    client.call("POST", f"/v1/containers/{quote(name, safe='')}/{ctx.args.command}")
    ctx.out(f"{ctx.args.command}: {name}")
    return 0


def _ps(ctx: Context, client: Any) -> int:
    from reconciler.cli.ops import limits_text, print_ps, since_text

    wanted = set(ctx.args.stacks)
    now = time.time()
    rows = []
    for c in client.call("GET", "/v1/containers?usage=0"):
        if wanted and c["stack"] not in wanted:
            continue
        since = c["started_at"] if c["observed_state"] in ("running", "paused") else \
            c["finished_at"]
        rows.append({
            "name": c["name"], "stack": c["stack"], "image": c["image"],
            "image_digest": c["image_digest"],
            "state": c["state"], "since": since_text(since, now), "exit_code": c["exit_code"],
            "oom_killed": c["oom_killed"], "restarts": c["restarts"], "pid": c["pid"],
            "health": c["health"], "limits": limits_text(c["limits"]),
            "addresses": c["addresses"], "ports": c["ports"], "drift": c.get("drift", []),
            "source": c["source"], "commit": c.get("commit"),
            "next_attempt": c["backoff"]["next_attempt"],
            "last_exits": c["backoff"]["last_exits"]})
    return print_ps(ctx, rows, now)


def _logs(ctx: Context, client: Any) -> int:
    import json

    from reconciler.cli.host import since_time

    query = f"follow={int(bool(ctx.args.follow))}"
    if ctx.args.since:
        query += f"&since={since_time(ctx.args.since)}"
    if ctx.args.tail is not None:
        query += f"&tail={ctx.args.tail}"
    for raw in client.lines(f"/v1/containers/{quote(_name(ctx), safe='')}/logs?{query}"):
        line = json.loads(raw)
        if "dropped" in line:
            print(f"reconcile: {line['note']}", file=sys.stderr)
            continue
        stream = sys.stdout if line["stream"] == "stdout" else sys.stderr
        text = line["text"]
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    return 0


def _apply(ctx: Context, client: Any) -> int:
    """The loop's files are the desired state: `apply` of (some of) them asks it to
    converge now; other files are refused, as the lock would have refused them."""
    from reconciler.spec.units import parse_duration

    watched = [s["source"] for s in client.call("GET", "/v1/stacks")]
    for path in [*ctx.args.paths, *(ctx.args.compose_files or [])]:
        full = os.path.abspath(path)
        if not any(w == full or w.startswith(full.rstrip("/") + "/") for w in watched):
            raise ReconcileError(f"{path}: not among the files the running loop watches "
                                 f"({client.url}); edit those, or stop the loop first")
    wait = parse_duration(ctx.args.wait_timeout)
    result = client.call("POST", "/v1/apply", {"wait": wait}, timeout=wait + 30)
    if not result.get("converged"):
        raise ReconcileError(f"the loop did not converge within {wait:g}s (--wait-timeout)")
    if not result.get("ok"):
        raise ReconcileError(f"the loop's convergence failed: {result.get('last_error')}")
    ctx.out("Apply complete (by the running loop).")
    return 0
