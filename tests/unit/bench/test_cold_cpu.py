"""The cold apply's CPU records (bench/engine.py stack_cpu, bench/report_docker.py) and the
failed peer's message (bench/suite_converge.py)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench import common, engine, report_docker, suite_converge

BURN = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"


def test_stack_cpu_counts_the_engine_processes_and_what_they_reaped(tmp_path: Path) -> None:
    base = tmp_path / "eng"
    base.mkdir()
    # a process named like containerd whose command line names the engine's dir; its busy
    # child is reaped before the marker appears, so its CPU is only in the parent's cutime
    shell = tmp_path / "containerd-burn"
    shutil.copy("/bin/sh", shell)
    marker = tmp_path / "done"
    script = f"({BURN}); touch {marker}; sleep 30"
    host = f"unix://{base}/docker.sock"
    before = engine.stack_cpu(host)
    proc = subprocess.Popen([str(shell), "-c", script, str(base)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()
        used = engine.stack_cpu(host) - before
        assert used >= 0.05
        assert engine.stack_cpu(f"unix://{tmp_path / 'other'}/docker.sock") == 0.0
    finally:
        proc.kill()
        proc.wait()


def test_the_cpu_table_gives_each_tools_client_and_engine_cpu_and_the_clients_share() -> None:
    results = [
        common.result("converge.cold.client-cpu", 10, report_docker.OURS, [0.08, 0.09, 0.10]),
        common.result("converge.cold.engine-cpu", 10, report_docker.OURS, [1.4, 1.5, 1.6]),
        common.result("converge.cold.client-cpu", 10, report_docker.V2, [0.06]),
        common.result("converge.cold.engine-cpu", 10, report_docker.V2, [1.44]),
        common.not_run("converge.cold.client-cpu", 10, report_docker.V1, "not installed"),
    ]
    rows = {(r["metric"], r["n"], r["tool"]): r for r in results}
    table = report_docker._cpu_table(rows, [10, 50])
    assert table[2] == "| N | reconcile-docker | Compose v2 | docker-compose 1.29 |"
    assert table[4] == "| 10 | 90 ms + 1.50 s (client 5.7%) | 60 ms + 1.44 s (client 4.0%) | - |"
    assert len(table) == 6  # no row for N=50, which has no CPU records
    assert report_docker._cpu_table({}, [10]) == []


def test_a_long_failure_keeps_the_command_and_the_end_of_stderr() -> None:
    error = "compose -p x up exited 1: " + "warning " * 200 + "Error: name conflict"
    gist = suite_converge._gist(error)
    assert gist.startswith("compose -p x up exited 1: ")
    assert gist.endswith("Error: name conflict")
    assert len(gist) < 600
    assert suite_converge._gist("short") == "short"
