"""The streamed bodies: a slow SSE reader is told what it lost; idle ticks are empty."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.api.feed import EventRing
from reconciler.api.streams import event_stream
from reconciler.api.view import LoopView
from tests.fakes import InMemoryDriver


def test_a_reader_that_fell_behind_gets_a_dropped_note_then_the_rest(tmp_path: Path) -> None:
    view = LoopView(InMemoryDriver(), tmp_path, ring=EventRing(client_buffer=3))
    stream = event_stream(view, last_id=None, tick=0.01)
    assert next(stream).startswith(b": reconcile events")  # subscribed now
    for i in range(10):
        view.on_event("died", f"c{i}", {"exit_code": 137, "env": {"DB_PASSWORD": "x"}})
    frames = [next(stream) for _ in range(5)]
    assert frames[0].startswith(b"event: dropped\n")
    assert json.loads(frames[0].split(b"data: ")[1]) == {"dropped": 7,
                                                         "note": "dropped 7 events"}
    kept = [json.loads(f.split(b"data: ")[1]) for f in frames[1:4]]
    assert [e["name"] for e in kept] == ["c0", "c1", "c2"]
    assert kept[0]["env"]["DB_PASSWORD"] != "x"  # masked as plans mask it
    assert frames[4] == b""  # nothing more: an idle tick for the writer
    stream.close()
    assert view.events.readers == 0  # closing the body unsubscribes


def test_a_resumed_stream_starts_after_the_last_event_id(tmp_path: Path) -> None:
    view = LoopView(InMemoryDriver(), tmp_path)
    for i in range(5):
        view.on_event("tick", "", {"i": i})
    stream = event_stream(view, last_id=3, tick=0.01)
    next(stream)
    frames = [next(stream) for _ in range(2)]
    assert [f.split(b"\n")[0] for f in frames] == [b"id: 4", b"id: 5"]
    stream.close()
