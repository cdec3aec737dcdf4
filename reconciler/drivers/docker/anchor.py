"""The engine's own event log as the settled no-op's proof (cli/settled.py): one GET instead
of every GET the recorded observe made.

When a read log records (cli/settle.py), the first GET it notes for an engine is preceded
by the engine's *anchor*: its identity (the pid at the other end of the unix socket, with
that process's start time from /proc) and its newest buffered event (time and digest). At
the window's end the anchor is taken again; any event in between drops it (the GETs'
signatures still stand). The check asks `GET /events?since=<anchor time>&until=<now>`: the
answer must come from the same engine process and end with the anchor itself. Anything
else refuses, and the recorded GETs are sent again:

- an event after the anchor (the engine logs every change the observe reads: container
  create/start/die/kill/oom/destroy/rename/update/pause/unpause/restart, health probes
  as exec events and health_status, network connect/disconnect/create/destroy, volume
  create/destroy, image pull/load/tag/untag/delete/import);
- the anchor gone from the engine's bounded buffer (256 events in dockerd), or an event
  appended after it with an older time (the buffer is searched back from its end and
  stops at the first older one);
- another engine process (a restart also empties the buffer), or no unix socket peer (a
  TCP engine, another pid namespace), or no event at all.
"""

from __future__ import annotations

import json
import threading
import time

from reconciler.drivers.docker.engine_api import (
    API_VERSION,
    EngineAPI,
    EngineConnectionError,
    EngineTimeout,
    UnsupportedHost,
)
from reconciler.support import readlog, readsig

KIND = "engine-events"  # a read log's entry: path the engine's host, signature the anchor
NONE = "none"  # noted when there is no anchor: the check sends the GETs again
_lock = threading.Lock()

TYPE_CHECKING = False  # not `typing` at run time: a settled docker no-op imports this module
if TYPE_CHECKING:
    from typing import Any


def take_once(api: EngineAPI) -> None:
    """Before each GET a read log notes (inside readlog.trusted()): the first one for this
    engine notes the anchor, and checks at the window's end that it still is the newest."""
    with _lock:
        if readlog.noted(KIND, api.host):
            return
        first = current(api)
        readlog.note(KIND, api.host, first or NONE)
    if first is not None:
        readlog.at_close(lambda: _confirm(api, first))


def _confirm(api: EngineAPI, first: str) -> None:
    with readlog.trusted():
        last = current(api)
    if last != first:  # the engine logged something while it was read
        readlog.forget(KIND, api.host)
        readlog.note(KIND, api.host, NONE)


def current(api: EngineAPI) -> str | None:
    """`IDENTITY TIME_NANO DIGEST` of the engine's newest buffered event, or None."""
    found = _events(api, 0)  # since the epoch: the whole buffer
    if found is None or not found[1]:
        return None
    identity, events = found
    return f"{identity} {int(events[-1]['timeNano'])} {_digest(events[-1])}"


def unchanged(host: str, anchor: str) -> bool:
    """Whether the engine at `host` is the process that gave `anchor` and has logged
    nothing after it."""
    try:
        identity, since, sig = anchor.split(" ")
        api = EngineAPI(host, 10.0)
        found = _events(api, int(since))
    except (ValueError, UnsupportedHost):
        return False
    api.close()
    return (found is not None and found[0] == identity and bool(found[1])
            and _digest(found[1][-1]) == sig)  # fmt: skip


def _events(api: EngineAPI, since: int) -> tuple[str, list[dict[str, Any]]] | None:
    """(identity, the buffered events from `since` to now) of the engine, or None."""
    target = f"/v{API_VERSION}/events?since={_stamp(since)}&until={_stamp(time.time_ns())}"
    peer: list[int | None] = []
    try:
        status, _, data = api._send("GET", target, None, peer=peer)
        events = [json.loads(line) for line in data.splitlines() if line.strip()]
    except (EngineConnectionError, EngineTimeout, ValueError):
        return None
    identity = _identity(peer[0]) if peer else None
    if status != 200 or identity is None:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get("timeNano"), int) for e in events):
        return None
    return identity, events


def _identity(pid: int | None) -> str | None:
    """The engine process: its pid and /proc start time (another process after a restart,
    even under the same pid)."""
    if pid is None:
        return None
    with readlog.unlogged():
        stat = readsig.signature("read", f"/proc/{pid}/stat")  # proc:ALIVE:PPID:START
    return f"{pid}/{stat}" if stat.startswith("proc:True:") else None


def _stamp(nanoseconds: int) -> str:
    return f"{nanoseconds // 1_000_000_000}.{nanoseconds % 1_000_000_000:09d}"


def _digest(event: dict[str, Any]) -> str:
    return readsig.digest(json.dumps(event, sort_keys=True).encode())
