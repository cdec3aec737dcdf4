"""What the control loop counts about itself, for `/metrics` (api/metrics.py).

The loop's deciding thread records (a convergence's duration and result, the actions it
planned and ran, image bytes moved, deaths and OOM kills, how late it picked up a wake);
any other thread takes a `snapshot()`, an immutable copy. Plain numbers under one lock:
no metrics library here, so the loop neither imports the API nor mutates global state a
scrape reads.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from reconciler.engine.execute import ActionEvent
from reconciler.engine.wake import Wake
from reconciler.model.actions import Kind, Plan
from reconciler.model.records import field, record

# Seconds: a no-op convergence takes milliseconds, a pull or a rollout up to minutes.
CONVERGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 120.0)
IMAGE_KINDS = {Kind.PULL: "pull", Kind.IMPORT: "import", Kind.BUILD: "build"}


@record(frozen=True)
class Histogram:
    bounds: tuple[float, ...]
    counts: tuple[int, ...]  # per bucket (not cumulative); one more for +Inf
    total: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= it), +Inf last: Prometheus' bucket form."""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


@record(frozen=True)
class TelemetrySnapshot:
    converges: Mapping[str, int] = field(default_factory=dict)  # "ok" | "failed" -> count
    converge_seconds: Histogram = Histogram(CONVERGE_BUCKETS, (0,) * (len(CONVERGE_BUCKETS) + 1))
    last_converge: float | None = None  # time.time() a convergence ended
    last_success: float | None = None  # ... ended with every action ok
    planned: Mapping[str, int] = field(default_factory=dict)  # last plan: kind -> actions
    actions: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (kind, status)
    images: Mapping[str, int] = field(default_factory=dict)  # "pull" ... -> succeeded
    image_bytes: Mapping[str, int] = field(default_factory=dict)  # "pull" ... -> bytes
    deaths: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (stack, name)
    oom_kills: Mapping[tuple[str, str], int] = field(default_factory=dict)
    wakes: Mapping[str, int] = field(default_factory=dict)  # wake kind -> count
    lag_last: float = 0.0  # seconds from a wake's cause to the loop taking it up
    lag_max: float = 0.0


class Telemetry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._converges: Counter[str] = Counter()
        self._buckets = [0] * (len(CONVERGE_BUCKETS) + 1)
        self._seconds = 0.0
        self._last: float | None = None
        self._success: float | None = None
        self._planned: dict[str, int] = {}
        self._actions: Counter[tuple[str, str]] = Counter()
        self._images: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        self._deaths: Counter[tuple[str, str]] = Counter()
        self._ooms: Counter[tuple[str, str]] = Counter()
        self._wakes: Counter[str] = Counter()
        self._lag_last = self._lag_max = 0.0

    def converged(self, seconds: float, ok: bool, plans: Iterable[Plan], now: float) -> None:
        with self._lock:
            self._converges["ok" if ok else "failed"] += 1
            self._buckets[bisect.bisect_left(CONVERGE_BUCKETS, seconds)] += 1
            self._seconds += seconds
            self._last = now
            if ok:
                self._success = now
            first = next(iter(plans), None)  # what the loop found to do, before images ran
            self._planned = dict(Counter(a.kind.value for a in first.actions)) if first else {}

    def action(self, event: ActionEvent) -> None:
        if event.status == "started":
            return
        with self._lock:
            self._actions[(event.action.kind.value, event.status)] += 1
            image = IMAGE_KINDS.get(event.action.kind)
            if image is not None and event.status == "succeeded":
                self._images[image] += 1
                self._bytes[image] += event.transferred

    def died(self, stack: str, name: str, oom_killed: bool) -> None:
        with self._lock:
            self._deaths[(stack, name)] += 1
            if oom_killed:
                self._ooms[(stack, name)] += 1

    def woke(self, batch: Iterable[Wake], now: float) -> None:
        lags = []
        with self._lock:
            for wake in batch:
                self._wakes[wake.kind] += 1
                if wake.time > 0:  # a wake without a cause time (a stop, a queued intent)
                    lags.append(max(0.0, now - wake.time))
            if lags:
                self._lag_last = max(lags)
                self._lag_max = max(self._lag_max, self._lag_last)

    def snapshot(self) -> TelemetrySnapshot:
        with self._lock:
            return TelemetrySnapshot(
                converges=dict(self._converges),
                converge_seconds=Histogram(CONVERGE_BUCKETS, tuple(self._buckets),
                                           self._seconds),
                last_converge=self._last, last_success=self._success,
                planned=dict(self._planned), actions=dict(self._actions),
                images=dict(self._images), image_bytes=dict(self._bytes),
                deaths=dict(self._deaths), oom_kills=dict(self._ooms), wakes=dict(self._wakes),
                lag_last=self._lag_last, lag_max=self._lag_max)
