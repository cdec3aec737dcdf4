"""bench/suite_api.py's records for run_all: the restart latency with and without the API
clients (same metric, N = clients) and the loop's RSS, in the common result shape."""

from __future__ import annotations

from bench import suite_api


def stats(p50: float) -> dict[str, float]:
    return {"n": 7, "p50": p50, "p99": p50 * 2, "min": p50 / 2, "max": p50 * 2, "mean": p50}


def test_rows_pair_the_idle_and_loaded_runs_under_one_metric() -> None:
    rows = suite_api.rows({"clients": 200, "restart_idle": stats(0.4),
                           "restart_loaded": stats(0.6), "rss_kib_idle": 48000,
                           "rss_kib_peak": 60000})
    latency = {r["n"]: r for r in rows if r["metric"] == "api.restart_after_kill9"}
    assert latency[0]["median"] == 0.4 and latency[200]["median"] == 0.6
    assert latency[200]["p99"] == 1.2 and latency[200]["count"] == 7
    assert "200 API clients" in latency[200]["tool"]
    rss = {r["n"]: r for r in rows if r["metric"] == "api.loop_rss"}
    assert rss[0]["median"] == 48000 and rss[200]["median"] == 60000
    assert rss[0]["unit"] == "KiB"


def test_the_clients_follow_the_streams_asked_for_round_robin() -> None:
    assert set(suite_api.STREAMS) == {"events", "logs"}
    assert suite_api.STREAMS["events"] == "/v1/events"
    assert "follow=1" in suite_api.STREAMS["logs"]
    assert suite_api.UP_FOR > 1.0  # the stack's reset_after: no backoff cascade
