"""Restart latency: kill -9 of a container's process until it runs again, `reconcile run`
vs Docker's restart policy in the same run; and convergence time after a stack file edit.

Both sides restart with a 100 ms first delay that doubles for quick repeated failures and
resets after 10 s up (Docker's fixed rule, reconcile's default backoff). To measure the
mechanism rather than a grown backoff, KILLS kills go round-robin over CONTAINERS
containers and each container is killed again only after ROUND seconds up; SETTLE seconds
pass after each restart (both tools), so a kill never queues behind the previous one.

"Running again" is the engine's own `started` record: reconcile's event journal entry
(written once `runc start` returned) and dockerd's `start` event. Also reported: the loop's
decision latency (the container's exit -> the restart decision), from its `died` events.

    sudo .venv/bin/python bench/bench_restart.py [--kills 50] [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONTAINERS = 10
ROUND = 11.0  # seconds: > reset_after (10 s), so every kill meets the first 100 ms delay
SETTLE = 0.5  # after a restart, so the next kill does not queue behind its bookkeeping
STACK = """\
version: 1
name: rb
images:
  bb: {{oci: {image}}}
containers:
{body}"""
SLEEPER = """\
  c{i}:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    restart: always
    env: {{REV: "{rev}"}}
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50": pick(0.5), "p99": pick(0.99), "min": ordered[0],
            "max": ordered[-1], "mean": statistics.fmean(ordered)}


def _journal(state: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    try:
        with (state / "events.jsonl").open() as fh:
            fh.seek(offset)
            data = fh.read()
            return [json.loads(x) for x in data.splitlines() if x.strip()], offset + len(data)
    except FileNotFoundError:
        return [], offset


def _wait_event(state: Path, offset: int, kind: str, name: str, after: float,
                timeout: float = 30.0) -> tuple[dict[str, Any], int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events, offset = _journal(state, offset)
        for event in events:
            if event["type"] == kind and event["name"] == name and event["time"] >= after:
                return event, offset
        time.sleep(0.002)
    raise RuntimeError(f"no {kind} event for {name}")


def _pid(state: Path, name: str) -> int:
    return int((state / "containers" / name / "container.pid").read_text())


def _write(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def bench_reconcile(base: Path, image: Path, kills: int) -> dict[str, Any]:
    state, stacks = base / "state", base / "stacks"
    stacks.mkdir()
    body = "".join(SLEEPER.format(i=i, rev=0) for i in range(CONTAINERS))
    stack_file = stacks / "rb.yaml"
    _write(stack_file, STACK.format(image=image, body=body))
    cli = [sys.executable, "-m", "reconciler.cli.main", "--state-dir", str(state)]
    log = (base / "loop.log").open("w")
    loop = subprocess.Popen([*cli, "--log-format", "json", "run", "--watch", str(stacks)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        for i in range(CONTAINERS):
            _wait_event(state, 0, "started", f"rb-c{i}", 0.0, 120)
        time.sleep(ROUND)
        kills_done = _kill_rounds(kills, lambda n: _pid(state, n),
                                  lambda n, t: _wait_event(state, 0, "started", n, t)[0]["time"])
        events, _ = _journal(state, 0)
        decided = [e["decided_ms"] / 1000 for e in events if e["type"] == "loop-died"]
        detected = [e["detected_ms"] / 1000 for e in events if e["type"] == "loop-died"]
        phases = kill_phases(kills_done, [e for e in events if e["type"] == "loop-died"])
        converge = _edit_rounds(state, stack_file, image)
    finally:
        loop.send_signal(signal.SIGTERM)
        loop.wait(timeout=30)
        subprocess.run([*cli, "down", "rb"], cwd=ROOT, capture_output=True, check=False)
    return {"restart": percentiles([k[2] - k[1] for k in kills_done]),
            "death_detected": percentiles(detected), "restart_decided": percentiles(decided),
            "phases": {key: percentiles([p[key] for p in phases]) for key in PHASES},
            "per_kill": phases, "converge_after_edit": percentiles(converge)}


PHASES = ("kill_to_exit", "exit_to_seen", "seen_to_woke", "woke_to_decided",
          "decided_to_started")


def kill_phases(kills: list[tuple[str, float, float]],
                died: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each kill's restart cut at the loop's marks (seconds): the record's exit time, the
    watch seeing it, the loop taking the wake, the decision, the engine's `started`."""
    out = []
    for name, killed, started in kills:
        event = next((e for e in died if e["name"] == name
                      and killed - 0.001 <= e.get("finished_at", 0) <= started), None)
        if event is None:
            continue
        exited = event["finished_at"]
        seen, woke, decided = (exited + event[k] / 1000 for k in
                               ("detected_ms", "woke_ms", "decided_ms"))
        out.append({"name": name, "kill_to_exit": exited - killed,
                    "exit_to_seen": seen - exited, "seen_to_woke": woke - seen,
                    "woke_to_decided": decided - woke, "decided_to_started": started - decided,
                    "restart": started - killed})
    return out


def _kill_rounds(kills: int, pid_of: Any, started_after: Any) -> list[tuple[str, float, float]]:
    """(container, kill time, started again time) of each kill."""
    done = []
    rounds = (kills + CONTAINERS - 1) // CONTAINERS
    for r in range(rounds):
        began = time.monotonic()
        for i in range(min(CONTAINERS, kills - r * CONTAINERS)):
            name = f"rb-c{i}"
            pid = pid_of(name)
            killed = time.time()
            os.kill(pid, signal.SIGKILL)
            done.append((name, killed, started_after(name, killed)))
            time.sleep(SETTLE)
        if r < rounds - 1:
            time.sleep(max(0.0, ROUND - (time.monotonic() - began)))
    return done


def _edit_rounds(state: Path, stack_file: Path, image: Path, rounds: int = 10) -> list[float]:
    """Change one container's env; time from the write to the replacement running."""
    samples = []
    for rev in range(1, rounds + 1):
        body = "".join(SLEEPER.format(i=i, rev=rev if i == 0 else 0) for i in range(CONTAINERS))
        written = time.time()
        _write(stack_file, STACK.format(image=image, body=body))
        samples.append(_wait_event(state, 0, "started", "rb-c0", written)[0]["time"] - written)
        time.sleep(0.5)
    return samples


def bench_docker(image: Path, kills: int) -> dict[str, Any]:
    try:
        from bench.common import DOCKER, docker_archive
        from bench.engine import engine
    except ImportError as error:
        return {"not_run": f"bench engine helpers missing: {error}"}
    with tempfile.TemporaryDirectory(prefix="rbr-") as tmp, engine(Path(tmp) / "e") as host:
        env = {**os.environ, "DOCKER_HOST": host}
        def docker(*args: str) -> str:
            return subprocess.run([DOCKER, *args], env=env, check=True, capture_output=True,
                                  text=True).stdout.strip()
        archive = docker_archive(image, Path(tmp) / "bb.tar", "rb/busybox:latest")
        docker("load", "-i", str(archive))
        for i in range(CONTAINERS):
            docker("run", "-d", "--name", f"rb-c{i}", "--network", "none", "--restart",
                   "always", "rb/busybox:latest", "sleep", "3600")
        ids = {f"rb-c{i}": docker("inspect", "-f", "{{.Id}}", f"rb-c{i}")
               for i in range(CONTAINERS)}
        time.sleep(ROUND)
        watch = subprocess.Popen([DOCKER, "events", "--format", "{{json .}}", "--filter",
                                  "event=start"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            def pid_of(name: str) -> int:
                return int(docker("inspect", "-f", "{{.State.Pid}}", name))

            def started_after(name: str, killed: float) -> float:
                assert watch.stdout is not None
                for line in watch.stdout:
                    event = json.loads(line)
                    if event.get("id") == ids[name] and event["timeNano"] / 1e9 >= killed:
                        return float(event["timeNano"]) / 1e9
                raise RuntimeError("docker events ended")

            done = _kill_rounds(kills, pid_of, started_after)
        finally:
            watch.terminate()
            watch.wait()
            for i in range(CONTAINERS):
                subprocess.run([DOCKER, "rm", "-f", f"rb-c{i}"], env=env, capture_output=True,
                               check=False)
        return {"restart": percentiles([k[2] - k[1] for k in done]),
                "version": docker("version", "-f", "{{.Server.Version}}")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rbr-") as tmp:
        base = Path(tmp)
        image = base / "busybox"
        subprocess.run([sys.executable, str(ROOT / "scripts/make-busybox-image.py"),
                        str(image)], check=True, capture_output=True)
        report: dict[str, Any] = {"kills": args.kills, "containers": CONTAINERS}
        report["reconcile"] = bench_reconcile(base, image, args.kills)
        if args.no_docker:
            report["docker"] = {"not_run": "--no-docker"}
        else:
            try:
                report["docker"] = bench_docker(image, args.kills)
            except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
                report["docker"] = {"not_run": f"{type(error).__name__}: {error}"}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
