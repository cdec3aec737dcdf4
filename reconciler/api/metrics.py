"""`GET /metrics`: the loop in Prometheus text format (docs/api.md, section Metrics).

A custom collector reads the view at scrape time: the containers of the last convergence
(state, health, restarts, backoff) and the loop's `Telemetry` snapshot (convergences,
actions, images, deaths, OOM kills, lag). Nothing is registered globally and nothing in
the loop is touched by a scrape; each server has its own `CollectorRegistry`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.loop.telemetry import TelemetrySnapshot

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from reconciler.api.routes import Request, Response, Router

PREFIX = "reconcile_"


class MetricsSource(Protocol):
    """What the collector reads of the loop (LoopView has it)."""

    def containers(self, usage: bool = True) -> list[dict[str, Any]]: ...
    def stacks(self) -> list[dict[str, Any]]: ...
    def telemetry(self) -> TelemetrySnapshot: ...


class LoopCollector:
    def __init__(self, source: MetricsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        rows = self.source.containers(usage=False)  # no stats calls: a scrape stays cheap
        yield from container_metrics(rows)
        yield stack_info(self.source.stacks())
        yield from loop_metrics(self.source.telemetry())


def container_metrics(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    by_state = GaugeMetricFamily(
        PREFIX + "containers", "Containers by stack, state (as the loop sees it) and health.",
        labels=["stack", "state", "health"])
    for (stack, state, health), n in sorted(Counter(
            (r["stack"], r["state"], r["health"]) for r in rows).items()):
        by_state.add_metric([stack, state, health], n)
    yield by_state
    restarts = CounterMetricFamily(
        PREFIX + "container_restarts", "Restarts of the container (its runtime's count).",
        labels=["stack", "container"])
    backoff = GaugeMetricFamily(
        PREFIX + "container_backoff", "1 while the container waits out a restart backoff.",
        labels=["stack", "container"])
    due = GaugeMetricFamily(
        PREFIX + "container_next_attempt_timestamp_seconds",
        "When a container in backoff is started again (seconds since the epoch).",
        labels=["stack", "container"])
    for r in rows:
        labels = [r["stack"], r["name"]]
        restarts.add_metric(labels, r["restarts"])
        next_attempt = (r.get("backoff") or {}).get("next_attempt")
        backoff.add_metric(labels, 1 if r["state"] == "backoff" else 0)
        if next_attempt is not None:
            due.add_metric(labels, next_attempt)
    yield from (restarts, backoff, due)


def stack_info(stacks: list[dict[str, Any]]) -> Metric:
    from prometheus_client.core import GaugeMetricFamily

    info = GaugeMetricFamily(
        PREFIX + "stack_info", "1 per stack, with its revision and last result "
        "(applied, pending, invalid, failed, deleted).", labels=["stack", "revision", "result"])
    for s in stacks:
        info.add_metric([s["name"], s.get("revision") or "", s["result"]], 1)
    return info


def loop_metrics(t: TelemetrySnapshot) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    yield _counter(PREFIX + "converges", "Convergences by result (ok: every action ok).",
                   "result", t.converges)
    hist = _histogram(t)
    yield hist
    for name, doc, value in (
            ("last_converge_timestamp_seconds", "When the last convergence ended.",
             t.last_converge),
            ("last_successful_converge_timestamp_seconds",
             "When the last convergence with every action ok ended.", t.last_success),
            ("loop_lag_seconds", "Seconds from the cause of the last wake (a death, a file "
             "event, a health change) to the loop taking it up.", t.lag_last),
            ("loop_lag_max_seconds", "The largest loop lag since the loop started.",
             t.lag_max)):
        gauge = GaugeMetricFamily(PREFIX + name, doc)
        if value is not None:
            gauge.add_metric([], value)
        yield gauge
    yield _gauge(PREFIX + "planned_actions", "Actions of the last convergence's plan, by kind.",
                 "kind", t.planned)
    actions = CounterMetricFamily(PREFIX + "actions", "Actions run, by kind and result "
                                  "(succeeded, failed, skipped).", labels=["kind", "status"])
    for (kind, status), n in sorted(t.actions.items()):
        actions.add_metric([kind, status], n)
    yield actions
    yield _plain_counter(PREFIX + "image_pulls", "Image pulls that succeeded.",
                         t.images.get("pull", 0))
    yield _plain_counter(PREFIX + "image_pull_bytes", "Bytes moved by image pulls.",
                         t.image_bytes.get("pull", 0))
    for name, doc, counts in (
            ("container_deaths", "Deaths the loop noted, per container.", t.deaths),
            ("container_oom_kills", "Deaths by the kernel's OOM killer, per container.",
             t.oom_kills)):
        family = CounterMetricFamily(PREFIX + name, doc, labels=["stack", "container"])
        for (stack, container), n in sorted(counts.items()):
            family.add_metric([stack, container], n)
        yield family
    yield _counter(PREFIX + "loop_wakes", "Wakes the loop took up, by kind.", "kind", t.wakes)


def _histogram(t: TelemetrySnapshot) -> Metric:
    from prometheus_client.core import HistogramMetricFamily

    hist = HistogramMetricFamily(PREFIX + "converge_duration_seconds",
                                 "Seconds one convergence took (observe, plan, execute).")
    buckets = [(_bound(b), n) for b, n in t.converge_seconds.cumulative()]
    hist.add_metric([], buckets, t.converge_seconds.total)
    return hist


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _counter(name: str, doc: str, label: str, values: dict[str, int] | Any) -> Metric:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def _gauge(name: str, doc: str, label: str, values: dict[str, int] | Any) -> Metric:
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def _plain_counter(name: str, doc: str, value: int) -> Metric:
    from prometheus_client.core import CounterMetricFamily

    return CounterMetricFamily(name, doc, value=value)


def exposition(source: MetricsSource) -> Callable[[], bytes]:
    """A function answering the text exposition of `source`, from a registry of its own."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoopCollector(source))  # type: ignore[arg-type]
    return lambda: generate_latest(registry)


def register(router: Router, view: MetricsSource) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST

    from reconciler.api.routes import Response

    scrape = exposition(view)

    def metrics(request: Request) -> Response:
        return Response(200, scrape(), {"Content-Type": CONTENT_TYPE_LATEST})

    router.add("GET", "/metrics", metrics)
