"""The API under load does not slow the loop: restart latency (kill -9 of a container's
process until it runs again) of `reconcile run` with no API client, then with CLIENTS
clients on its unix socket following `/v1/events` (SSE) and a chatty container's logs,
a tenth of them never reading a byte (stuck readers: their bounded queues fill and drop).

Kills go round-robin as in bench_restart.py (each container killed again only after ROUND
seconds up, so every kill meets the first 100 ms backoff delay). Also reported: events
and log lines the reading clients received, the loop process's threads and RSS.

    sudo .venv/bin/python bench/bench_api.py [--clients 200] [--kills 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.bench_restart as restart  # noqa: E402 (after the path)
from bench.common import make_image, rss_kib, write_json  # noqa: E402

ROUND, SETTLE, percentiles = restart.ROUND, restart.SETTLE, restart.percentiles

CONTAINERS = 5
STACK = """\
version: 1
name: ab
images:
  bb: {{oci: {image}}}
containers:
  talk:
    image: bb
    command: ["sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); usleep 10000; done"]
    stop_signal: SIGKILL
    restart: always
{body}"""
SLEEPER = """\
  c{i}:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    restart: always
"""


class Follower(threading.Thread):
    """One client on the unix socket: GET `path`, then read (or, stuck, never read)."""

    def __init__(self, sock: Path, path: str, stuck: bool, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.sock, self.path, self.stuck, self.stop_event = sock, path, stuck, stop
        self.received = 0
        self.lines = 0

    def run(self) -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.sock))
            s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            s.settimeout(0.5)
            while not self.stop_event.is_set():
                if self.stuck:
                    self.stop_event.wait(0.5)
                    continue
                try:
                    data = s.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                self.received += len(data)
                self.lines += data.count(b"\n")


def _kills(state: Path, kills: int) -> list[float]:
    latencies = []
    for k in range(kills):
        name = f"ab-c{k % CONTAINERS}"
        if k and k % CONTAINERS == 0:
            time.sleep(max(0.0, ROUND - CONTAINERS * SETTLE))
        pid = restart._pid(state, name)
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        latencies.append(restart._wait_event(state, 0, "started", name, killed)[0]["time"] - killed)
        time.sleep(SETTLE)
    return latencies


def phase(state: Path, clients: int, kills: int) -> dict[str, Any]:
    sock = state / "api.sock"
    stop = threading.Event()
    followers = []
    for n in range(clients):
        path = "/v1/events" if n % 2 else "/v1/containers/ab-talk/logs?follow=1&tail=10"
        followers.append(Follower(sock, path, stuck=n % 10 == 0, stop=stop))
    for f in followers:
        f.start()
    time.sleep(2.0)
    began = time.monotonic()
    latencies = _kills(state, kills)
    seconds = time.monotonic() - began
    loop_pid = int((state / "lock").read_text().split()[0])
    threads = len(list(Path(f"/proc/{loop_pid}/task").iterdir()))
    rss = rss_kib(loop_pid)[0]
    stop.set()
    reading = [f for f in followers if not f.stuck]
    return {"clients": clients, "stuck": clients - len(reading), "seconds": round(seconds, 1),
            "restart": percentiles(latencies), "loop_threads": threads, "loop_rss_kib": rss,
            "bytes_received": sum(f.received for f in reading),
            "lines_received": sum(f.lines for f in reading)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rba-") as tmp:
        base = Path(tmp)
        image = make_image(base / "image")
        state, stacks = base / "state", base / "stacks"
        stacks.mkdir()
        body = "".join(SLEEPER.format(i=i) for i in range(CONTAINERS))
        restart._write(stacks / "ab.yaml", STACK.format(image=image, body=body))
        cli = [sys.executable, "-m", "reconciler.cli.main", "--state-dir", str(state)]
        log = (base / "loop.log").open("w")
        loop = subprocess.Popen([*cli, "--log-format", "json", "run", "--watch", str(stacks)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            for i in range(CONTAINERS):
                restart._wait_event(state, 0, "started", f"ab-c{i}", 0.0, 120)
            time.sleep(ROUND)
            results = {"idle": phase(state, 0, args.kills)}
            time.sleep(ROUND)
            results["loaded"] = phase(state, args.clients, args.kills)
            events, _ = restart._journal(state, 0)
            results["restart_decided_ms"] = percentiles(
                [e["decided_ms"] for e in events if e["type"] == "loop-died"])
        finally:
            loop.send_signal(signal.SIGTERM)
            loop.wait(timeout=30)
            subprocess.run([*cli, "down", "ab"], cwd=ROOT, capture_output=True, check=False)
    print(json.dumps(results, indent=2))
    if args.out:
        write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
