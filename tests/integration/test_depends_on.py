"""`reconcile apply` on the real kernel waits for depends_on healthy/completed: the
dependant is created only once the dependency's probe passed or its job exited 0; a
failing job leaves the dependant uncreated and apply exits 1 with the reason."""

from __future__ import annotations

import pytest

from tests.integration.loop_helpers import HEADER, LoopHost, loop_host

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

HEALTHY = """\
  db:
    image: bb
    command: ["sh", "-c", "sleep 1; exec httpd -f -p 8080"]
    stop_signal: SIGKILL
    healthcheck: {tcp: {port: 8080}, interval: 200ms, timeout: 1s, retries: 3,
                  start_period: 5s}
  web:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    depends_on: {db: healthy}
"""

JOB = """\
  migrate:
    image: bb
    command: ["sh", "-c", "sleep 0.5; exit {code}"]
  app:
    image: bb
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    depends_on: {{migrate: completed}}
"""


def _event_time(host: LoopHost, kind: str, name: str) -> float:
    times = [e["time"] for e in host.events(kind) if e["name"] == name]
    assert times, f"no {kind} event for {name}"
    return float(times[0])


def test_web_is_created_after_db_became_healthy(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}dh"
    path = host.write("dh.yaml", HEADER.format(name=name, image=host.image) + HEALTHY, name)
    done = host.cli("apply", str(path))
    assert f"… waiting {name}-web (waiting for {name}-db to be healthy)" in done.stdout
    rows = host.ps(name)
    assert rows[f"{name}-web"]["state"] == "running"
    db_started = _event_time(host, "started", f"{name}-db")
    web_created = _event_time(host, "created", f"{name}-web")
    # db listens only after `sleep 1`: web's create proves the wait for the probe.
    assert web_created >= db_started + 1.0
    # A second apply finds db running (health probed again) and changes nothing.
    again = host.cli("apply", str(path))
    assert "No changes" in again.stdout


def test_app_starts_after_the_migration_completed(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}dc"
    text = HEADER.format(name=name, image=host.image) + JOB.format(code=0)
    path = host.write("dc.yaml", text, name)
    host.cli("apply", str(path))
    rows = host.ps(name)
    assert rows[f"{name}-migrate"]["state"] == "exited"
    assert rows[f"{name}-migrate"]["exit_code"] == 0
    assert rows[f"{name}-app"]["state"] == "running"
    started = _event_time(host, "started", f"{name}-migrate")
    assert _event_time(host, "created", f"{name}-app") >= started + 0.5


def test_a_failing_migration_leaves_app_uncreated_and_apply_fails(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}df"
    text = HEADER.format(name=name, image=host.image) + JOB.format(code=1)
    path = host.write("df.yaml", text, name)
    done = host.cli("apply", str(path), check=False)
    assert done.returncode == 1
    assert f"{name}-app: not created/started: {name}-migrate exited with code 1; " \
           "depends_on: completed" in done.stderr
    assert f"{name}-app" not in host.ps(name)
