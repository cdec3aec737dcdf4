"""/metrics as a Prometheus server reads it: the text exposition parsed back with
prometheus-client's own parser, each family's samples checked against what it was fed."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from reconciler.api.metrics import exposition
from reconciler.engine.execute import ActionEvent
from reconciler.loop.telemetry import Telemetry, TelemetrySnapshot
from reconciler.model.actions import Action, Kind, Plan

ROWS = [
    {"name": "shop-web", "stack": "shop", "state": "running", "health": "healthy",
     "restarts": 3, "backoff": {"next_attempt": None, "last_exits": [1]}},
    {"name": "shop-api", "stack": "shop", "state": "running", "health": "healthy",
     "restarts": 0, "backoff": {"next_attempt": None, "last_exits": []}},
    {"name": "shop-job", "stack": "shop", "state": "backoff", "health": "none",
     "restarts": 5, "backoff": {"next_attempt": 1700000000.5, "last_exits": [2, 2]}},
    {"name": "blog-db", "stack": "blog", "state": "exited", "health": "none",
     "restarts": 0, "backoff": {"next_attempt": None, "last_exits": [0]}},
]


class Source:
    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self.asked_usage: list[bool] = []

    def containers(self, usage: bool = True) -> list[dict[str, Any]]:
        self.asked_usage.append(usage)
        return ROWS

    def stacks(self) -> list[dict[str, Any]]:
        return [{"name": "shop", "revision": "abc123", "result": "applied"},
                {"name": "blog", "revision": "", "result": "invalid"}]

    def telemetry(self) -> TelemetrySnapshot:
        return self._telemetry.snapshot()


def scrape(source: Source) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """family name -> {(sample name, sorted labels): value}"""
    text = exposition(source)().decode()
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value
                            for s in family.samples}
    return out


def fed() -> Telemetry:
    t = Telemetry()
    web = Action("pull:web", Kind.PULL, "web", "missing")
    start = Action("start:shop-web", Kind.START, "shop-web", "died")
    t.action(ActionEvent(web, "succeeded", transferred=2048))
    t.action(ActionEvent(start, "succeeded"))
    t.action(ActionEvent(start, "failed", error="boom"))
    t.died("shop", "shop-web", oom_killed=True)
    t.died("shop", "shop-web", oom_killed=False)
    t.converged(0.02, True, [Plan(actions=(web, start))], now=1700000001.0)
    t.converged(3.0, False, [Plan()], now=1700000002.0)
    return t


def test_containers_by_state_and_health_and_per_container_restarts_and_backoff() -> None:
    source = Source(fed())
    got = scrape(source)
    assert source.asked_usage == [False]  # a scrape makes no stats calls
    states = got["reconcile_containers"]
    assert states[("reconcile_containers", (("health", "healthy"), ("stack", "shop"),
                                            ("state", "running")))] == 2
    assert states[("reconcile_containers", (("health", "none"), ("stack", "shop"),
                                            ("state", "backoff")))] == 1
    assert sum(states.values()) == len(ROWS)
    restarts = {dict(k[1])["container"]: v for k, v in got["reconcile_container_restarts"].items()}
    assert restarts == {r["name"]: r["restarts"] for r in ROWS}
    backoff = {dict(k[1])["container"]: v for k, v in got["reconcile_container_backoff"].items()}
    assert backoff == {"shop-web": 0, "shop-api": 0, "shop-job": 1, "blog-db": 0}
    due = got["reconcile_container_next_attempt_timestamp_seconds"]
    assert list(due.values()) == [1700000000.5]
    info = got["reconcile_stack_info"]
    assert ("reconcile_stack_info", (("result", "invalid"), ("revision", ""),
                                     ("stack", "blog"))) in info


def test_loop_counters_histogram_and_timestamps() -> None:
    got = scrape(Source(fed()))
    assert got["reconcile_converges"] == {
        ("reconcile_converges_total", (("result", "ok"),)): 1,
        ("reconcile_converges_total", (("result", "failed"),)): 1}
    hist = got["reconcile_converge_duration_seconds"]
    assert hist[("reconcile_converge_duration_seconds_count", ())] == 2
    assert hist[("reconcile_converge_duration_seconds_sum", ())] == 3.02
    assert hist[("reconcile_converge_duration_seconds_bucket", (("le", "0.025"),))] == 1
    assert hist[("reconcile_converge_duration_seconds_bucket", (("le", "2.5"),))] == 1
    assert hist[("reconcile_converge_duration_seconds_bucket", (("le", "5.0"),))] == 2
    assert hist[("reconcile_converge_duration_seconds_bucket", (("le", "+Inf"),))] == 2
    assert got["reconcile_last_successful_converge_timestamp_seconds"] == {
        ("reconcile_last_successful_converge_timestamp_seconds", ()): 1700000001.0}
    assert got["reconcile_last_converge_timestamp_seconds"] == {
        ("reconcile_last_converge_timestamp_seconds", ()): 1700000002.0}
    assert got["reconcile_planned_actions"] == {}  # the last plan was empty
    assert got["reconcile_actions"] == {
        ("reconcile_actions_total", (("kind", "pull"), ("status", "succeeded"))): 1,
        ("reconcile_actions_total", (("kind", "start"), ("status", "failed"))): 1,
        ("reconcile_actions_total", (("kind", "start"), ("status", "succeeded"))): 1}
    assert got["reconcile_image_pulls"] == {("reconcile_image_pulls_total", ()): 1}
    assert got["reconcile_image_pull_bytes"] == {("reconcile_image_pull_bytes_total", ()): 2048}
    web = (("container", "shop-web"), ("stack", "shop"))
    assert got["reconcile_container_deaths"] == {("reconcile_container_deaths_total", web): 2}
    assert got["reconcile_container_oom_kills"] == {
        ("reconcile_container_oom_kills_total", web): 1}


def test_planned_actions_count_the_kinds_of_the_last_plan() -> None:
    t = Telemetry()
    actions = tuple(Action(f"create:c{n}", Kind.CREATE, f"c{n}", "new") for n in range(3))
    t.converged(0.1, True, [Plan(actions=(*actions, Action("remove:x", Kind.REMOVE, "x",
                                                            "gone")))], now=1.0)
    got = scrape(Source(t))["reconcile_planned_actions"]
    assert got == {("reconcile_planned_actions", (("kind", "create"),)): 3,
                   ("reconcile_planned_actions", (("kind", "remove"),)): 1}


def test_before_any_convergence_the_timestamps_have_no_sample() -> None:
    got = scrape(Source(Telemetry()))
    assert got["reconcile_last_successful_converge_timestamp_seconds"] == {}
    assert got["reconcile_loop_lag_seconds"] == {("reconcile_loop_lag_seconds", ()): 0.0}
