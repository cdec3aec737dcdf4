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

import _socket
import _thread
import time

from reconciler.drivers.docker.http1 import (
    API_VERSION,
    Connection,
    EngineConnectionError,
    EngineTimeout,
)
from reconciler.support import readsig

# The check imports only this, http1 and readsig: not engine_api (socket's enums, urllib,
# threading: ~10 ms of a no-op of ~50), nor readlog (the record side's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class EngineAPI(Protocol):  # engine_api.EngineAPI, which imports this module
        host: str

        def _send(self, method: str, target: str, payload: bytes | None, wait: float = 0.0,
                  peer: list[int | None] | None = None) -> tuple[int, dict[str, str], bytes]:
            ...

KIND = "engine-events"  # a read log's entry: path the engine's host, signature the anchor
NONE = "none"  # noted when there is no anchor: the check sends the GETs again
CHECK_TIMEOUT = 10.0
RECENT_NS = 2 * 1_000_000_000  # the window current() reads first
_lock = _thread.allocate_lock()


def take_once(api: EngineAPI) -> None:
    """Before each GET a read log notes (inside readlog.trusted()): the first one for this
    engine notes the anchor, and checks at the window's end that it still is the newest."""
    from reconciler.support import readlog

    with _lock:
        if readlog.noted(KIND, api.host):
            return
        first = current(api)
        readlog.note(KIND, api.host, first or NONE)
    if first is not None:
        readlog.at_close(lambda: _confirm(api, first))


def _confirm(api: EngineAPI, first: str) -> None:
    from reconciler.support import readlog

    with readlog.trusted():
        last = current(api)
    if last != first:  # the engine logged something while it was read
        readlog.forget(KIND, api.host)
        readlog.note(KIND, api.host, NONE)


def current(api: EngineAPI) -> str | None:
    """`IDENTITY TIME_NANO DIGEST` of the engine's newest buffered event, or None. Asked
    first for the last RECENT seconds (after an apply that changed anything, its own last
    event is there), then since the epoch: the whole buffer, up to 256 events that the
    engine writes one by one (~5 ms a read). Either answer ends with the buffer's newest
    event: the engine searches back from its end."""
    peer: list[int | None] = []
    lines: list[bytes] = []
    for since in (time.time_ns() - RECENT_NS, 0):
        try:
            status, _, data = api._send("GET", _target(since), None, peer=peer)
        except (EngineConnectionError, EngineTimeout):
            return None
        lines = _lines(status, data)
        if lines:
            break
    identity = _identity(peer[0] if peer else None)
    if not lines or identity is None:
        return None
    import json  # the record side only

    try:
        newest = json.loads(lines[-1])
        time_nano = int(newest["timeNano"])
    except (ValueError, TypeError, KeyError):
        return None
    return f"{identity} {time_nano} {readsig.digest(lines[-1])}"


def unchanged(host: str, anchor: str) -> bool:
    """Whether the engine at `host` (a unix socket) is the process that gave `anchor` and
    has logged nothing after it."""
    try:
        identity, since, sig = anchor.split(" ")
        target = _target(int(since))
    except ValueError:
        return False
    if not host.startswith("unix:///"):
        return False
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(CHECK_TIMEOUT)
        sock.connect(host[len("unix://"):])
        conn = Connection(sock)
        pid = conn.peer_pid()
        status, _, data = conn.request("GET", target, b"")
    except (OSError, ValueError):  # refused, gone, timed out, not HTTP
        return False
    finally:
        sock.close()
    lines = _lines(status, data)
    return bool(lines) and _identity(pid) == identity and readsig.digest(lines[-1]) == sig


def _target(since: int) -> str:
    return f"/v{API_VERSION}/events?since={_stamp(since)}&until={_stamp(time.time_ns())}"


def _lines(status: int, data: bytes) -> list[bytes]:
    """The answer's events, one JSON document a line, as the engine wrote them (its
    encoder writes the same event the same way: compared as bytes, not parsed)."""
    return [line for line in data.splitlines() if line.strip()] if status == 200 else []


def _identity(pid: int | None) -> str | None:
    """The engine process: its pid and /proc start time (another process after a restart,
    even under the same pid). At record time this read is logged, and checked again."""
    if pid is None:
        return None
    stat = readsig.signature("read", f"/proc/{pid}/stat")  # proc:ALIVE:PPID:START
    return f"{pid}/{stat}" if stat.startswith("proc:True:") else None


def _stamp(nanoseconds: int) -> str:
    return f"{nanoseconds // 1_000_000_000}.{nanoseconds % 1_000_000_000:09d}"
