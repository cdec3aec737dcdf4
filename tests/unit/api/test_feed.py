"""Bounded per-client queues, the event ring with ids, SSE framing."""

from __future__ import annotations

import threading
import time

from reconciler.api.feed import ClientQueue, Dropped, EventRing, sse_comment, sse_frame


def test_a_full_queue_drops_and_then_says_how_many() -> None:
    q: ClientQueue[int] = ClientQueue(size=3)
    assert [q.put(i) for i in range(5)] == [True, True, True, False, False]
    assert q.get(0) == Dropped(2)  # the note first: the reader knows before the rest
    assert [q.get(0), q.get(0), q.get(0)] == [0, 1, 2]
    assert q.get(0.01) is None
    q.put(9)
    assert q.get(0) == 9


def test_a_waiting_reader_wakes_on_put_and_on_close() -> None:
    q: ClientQueue[str] = ClientQueue()
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(q.get(5)))
    reader.start()
    time.sleep(0.05)
    q.put("x")
    reader.join(2)
    assert got == ["x"]
    reader = threading.Thread(target=lambda: got.append(q.get(5)))
    reader.start()
    began = time.monotonic()
    q.close()
    reader.join(2)
    assert got == ["x", None] and time.monotonic() - began < 1
    assert not q.put("late")


def test_events_get_increasing_ids_and_the_ring_forgets_the_oldest() -> None:
    ring = EventRing(keep=3)
    for i in range(5):
        ring.append("died", f"c{i}", {"n": i})
    assert [e.id for e in ring.since(None)] == [3, 4, 5]
    assert [e.id for e in ring.since(3)] == [4, 5]
    assert ring.since(5) == [] and ring.last_id == 5
    assert ring.since(0, limit=1)[0].to_json()["name"] == "c4"


def test_subscribing_gives_the_backlog_then_the_new_ones_without_gap() -> None:
    ring = EventRing()
    for _ in range(3):
        ring.append("a", "", {})
    backlog, reader = ring.subscribe(last_id=1)
    ring.append("b", "", {})
    assert [e.id for e in backlog] == [2, 3]
    got = reader.get(0)
    assert not isinstance(got, Dropped) and got is not None and got.id == 4
    ring.unsubscribe(reader)
    assert ring.readers == 0 and reader.closed


def test_a_reader_that_never_reads_does_not_slow_the_writer() -> None:
    ring = EventRing(keep=100, client_buffer=10)
    _, stuck = ring.subscribe()
    began = time.monotonic()
    for i in range(20_000):
        ring.append("tick", "", {"i": i})
    assert time.monotonic() - began < 2.0
    assert stuck.get(0) == Dropped(20_000 - 10)


def test_sse_frames() -> None:
    assert sse_frame('{"a": 1}', event="loop", event_id=7) == \
        b'id: 7\nevent: loop\ndata: {"a": 1}\n\n'
    assert sse_frame("one\ntwo") == b"data: one\ndata: two\n\n"  # a newline cannot end it
    assert sse_comment("keep-alive") == b": keep-alive\n\n"
