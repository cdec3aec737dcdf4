"""The API under load: N clients following the event feed and a container's logs while a
container is killed (kill -9) and the loop restarts it, against the same kills with no client.

One `reconcile run` (native driver, private state dir, API on loopback TCP with a token)
runs a stack of two containers: `target`, killed every KILL_EVERY seconds, and `chatty`,
which prints a line every 50 ms for the log followers. Its backoff resets after 1 s up and
each kill comes at least UP_FOR s after the restart, so each kill meets the first 100 ms
delay, in both phases. Restart latency: the kill to the
loop's `started` journal entry for `target` (as bench_restart.py). Also: the loop's RSS
(before, peak under load), what the clients received, and how many failed.

    sudo .venv/bin/python bench/suite_api.py [--clients 200] [--duration 60] [--out F]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.bench_restart import _journal, _wait_event, _write, percentiles

KILL_EVERY = 1.5  # seconds between kills, at the least
UP_FOR = 1.4  # seconds up before the next kill: > reset_after (1 s), so no backoff grows
# (a slow restart followed at once by the next kill would be a short run: the backoff
# doubles, and the bench would measure its own cascade, not the loop)
STACK = """\
version: 1
name: apib
images:
  bb: {{oci: {image}}}
containers:
  target:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    restart: {{policy: always, backoff: {{initial: 100ms, reset_after: 1s}}}}
  chatty:
    image: bb
    command: ["sh", "-c", "while true; do echo tick; sleep 0.05; done"]
    stop_signal: SIGKILL
    restart: always
"""


class Loop:
    """`reconcile run` with its API on 127.0.0.1:PORT."""

    def __init__(self, work: Path, image: Path) -> None:
        self.state, stacks = work / "state", work / "stacks"
        stacks.mkdir()
        _write(stacks / "apib.yaml", STACK.format(image=image))
        self.token = secrets.token_hex(24)
        token_file = work / "token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        self.port = _free_port()
        self.cli = [sys.executable, "-m", "reconciler.cli.main", "--state-dir", str(self.state)]
        self.proc = subprocess.Popen(
            [*self.cli, "--log-format", "json", "--token-file", str(token_file), "run",
             "--watch", str(stacks), "--api-socket", str(work / "api.sock"),
             "--listen", f"127.0.0.1:{self.port}"],
            cwd=common.ROOT, stdout=(work / "loop.log").open("w"), stderr=subprocess.STDOUT)

    def rss_kib(self) -> int:
        return common.rss_kib(self.proc.pid)[0]

    def cpu_seconds(self) -> float:
        """user + system CPU time of the loop process so far (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> int:
        return len(list(Path(f"/proc/{self.proc.pid}/task").iterdir()))

    def pid_of(self, name: str) -> int:
        return int((self.state / "containers" / name / "container.pid").read_text())

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run([*self.cli, "down", "apib"], cwd=common.ROOT, capture_output=True,
                       check=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client(threading.Thread):
    """Follows one stream until `stop` is set; counts the bytes it got."""

    def __init__(self, loop: Loop, path: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.loop, self.path, self.stop = loop, path, stop
        self.received = 0
        self.error = ""

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.loop.port, timeout=30)
        try:
            conn.request("GET", self.path, headers={"Authorization": f"Bearer {self.loop.token}"})
            response = conn.getresponse()
            if response.status != 200:
                self.error = f"HTTP {response.status}"
                return
            while not self.stop.is_set():
                chunk = response.read1(65536)
                if not chunk:
                    self.error = "stream ended"
                    return
                self.received += len(chunk)
        except (OSError, http.client.HTTPException) as err:
            if not self.stop.is_set():
                self.error = type(err).__name__
        finally:
            conn.close()


def kill_rounds(loop: Loop, until: float) -> list[float]:
    """Kill `target` every KILL_EVERY s until `until`; the latency of each restart."""
    latencies, offset = [], 0
    while time.monotonic() < until:
        pid = loop.pid_of("apib-target")
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        event, offset = _wait_event(loop.state, offset, "started", "apib-target", killed)
        latencies.append(event["time"] - killed)
        time.sleep(max(KILL_EVERY - (time.time() - killed), UP_FOR - (time.time() - event["time"]),
                       0.0))
    return latencies


STREAMS = {"events": "/v1/events", "logs": "/v1/containers/apib-chatty/logs?follow=1&tail=10"}


def measure(clients: int, duration: float, work: Path,
            streams: tuple[str, ...] = ("events", "logs")) -> dict[str, Any]:
    """`streams`: what the clients follow, shared out round-robin."""
    image = common.make_image(work / "busybox")
    loop = Loop(work, image)
    try:
        for name in ("apib-target", "apib-chatty"):
            _wait_event(loop.state, 0, "started", name, 0.0, 120)
        time.sleep(1.5)
        rss_idle = loop.rss_kib()
        cpu, began = loop.cpu_seconds(), time.monotonic()
        idle = kill_rounds(loop, time.monotonic() + max(5.0, duration / 2))
        cpu_idle = (loop.cpu_seconds() - cpu) / (time.monotonic() - began)
        stop = threading.Event()
        paths = [STREAMS[streams[n % len(streams)]] for n in range(clients)]
        threads = [Client(loop, path, stop) for path in paths]
        for t in threads:
            t.start()
        time.sleep(2.0)  # every client connected and reading
        peak = [loop.rss_kib()]
        sampler = threading.Thread(target=_sample_rss, args=(loop, peak, stop), daemon=True)
        sampler.start()
        threads_loaded = loop.threads()
        cpu, began = loop.cpu_seconds(), time.monotonic()
        loaded = kill_rounds(loop, time.monotonic() + duration)
        cpu_loaded = (loop.cpu_seconds() - cpu) / (time.monotonic() - began)
        stop.set()
        for t in threads:
            t.join(timeout=5)
        journal, _ = _journal(loop.state, 0)
        loaded_since = time.time() - (time.monotonic() - began)
    finally:
        loop.close()
    died = [e for e in journal if e["type"] == "loop-died" and e["name"] == "apib-target"]
    errors = [t.error for t in threads if t.error]
    return {
        "clients": clients, "duration_s": duration, "streams": list(streams),
        "restart_idle": percentiles(idle), "restart_loaded": percentiles(loaded),
        "ratio_p50": percentiles(loaded)["p50"] / percentiles(idle)["p50"],
        "ratio_p99": percentiles(loaded)["p99"] / percentiles(idle)["p99"],
        "rss_kib_idle": rss_idle, "rss_kib_peak": max(peak),
        "loop_cpu_cores_idle": round(cpu_idle, 3), "loop_cpu_cores_loaded": round(cpu_loaded, 3),
        "loop_threads_loaded": threads_loaded,
        "received_mib": round(sum(t.received for t in threads) / 2**20, 2),
        "clients_failed": len(errors), "errors": sorted(set(errors))[:5],
        "journal_events": len(journal),
        "samples_idle": [round(x, 3) for x in idle],
        "samples_loaded": [round(x, 3) for x in loaded],
        # the loop's own account of each death: exit -> inotify wake, exit -> decision
        "died_loaded_ms": [(e.get("detected_ms"), e.get("decided_ms")) for e in died
                           if e["time"] >= loaded_since],
        "died_idle_ms": [(e.get("detected_ms"), e.get("decided_ms")) for e in died
                         if e["time"] < loaded_since],
    }


def _sample_rss(loop: Loop, peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        try:
            peak.append(loop.rss_kib())
        except OSError:
            return


def rows(found: dict[str, Any]) -> list[common.Result]:
    """The suite's result records for bench/run_all.py."""
    n = found["clients"]
    out = []
    for key, clients, tool in (("restart_idle", 0, "reconcile-run (no API client)"),
                               ("restart_loaded", n, f"reconcile-run ({n} API clients)")):
        stats = found[key]
        out.append({"metric": "api.restart_after_kill9", "n": clients, "tool": tool,
                    "unit": "s", "samples": [], "count": stats["n"], "median": stats["p50"],
                    "p99": stats["p99"], "min": stats["min"], "max": stats["max"]})
    for key, clients in (("rss_kib_idle", 0), ("rss_kib_peak", n)):
        value = float(found[key])
        out.append(common.result("api.loop_rss", clients, "reconcile-run", [value], "KiB"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds under load")
    parser.add_argument("--streams", nargs="+", choices=sorted(STREAMS),
                        default=["events", "logs"], help="what the clients follow")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    common.require_root()
    with common.workdir("rba-") as work:
        found = measure(args.clients, args.duration, work, tuple(args.streams))
    text = json.dumps(found, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
