"""`reconcile run` on every driver: the loop learns of a death from the driver's event
stream and restarts per policy, runs health checks through the driver's probes and
restarts an unhealthy container, and a one-shot apply waits for depends_on: healthy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from reconciler.drivers.base import ExecRequest
from tests.contract.conftest import REPO, Story, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.docker]

LOOPED = """
containers:
  app:
    image: base
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    restart: always
    healthcheck: {exec: ["test", "-f", "/tmp/ok"], interval: 1s, timeout: 1s, retries: 2,
                  start_period: 0s, on_unhealthy: restart}
"""


@pytest.fixture
def loop(story: Story) -> Iterator[subprocess.Popen[bytes]]:
    story.write(LOOPED)
    env = dict(os.environ)
    if story.driver.name == "docker":
        env["DOCKER_HOST"] = story.driver.host  # type: ignore[attr-defined]
    log = (story.folder / "loop.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", "--driver", story.driver.name, "--state-dir",
         str(story.state_dir), "run", str(story.path)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    story.names.add(f"{story.stack}-app")
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_loop_restarts_after_kill_9_and_when_unhealthy(
        story: Story, loop: subprocess.Popen[bytes]) -> None:
    first = story.wait_state("app", "running", timeout=30)
    # no /tmp/ok yet: unhealthy after two failed checks, restarted by the loop
    wait_for(lambda: (c := story.seen("app")) and c.restart_count >= 1 and c.state == "running",
             30, "restart of the unhealthy container")
    assert story.driver.exec(f"{story.stack}-app", ExecRequest(argv=["touch", "/tmp/ok"])) == 0
    healthy = story.seen("app")
    assert healthy is not None and healthy.pid is not None and healthy.pid != first.pid
    os.kill(healthy.pid, signal.SIGKILL)
    wait_for(lambda: (c := story.seen("app")) and c.state == "running"
             and c.restart_count > healthy.restart_count, 30, "restart after kill -9")
    assert loop.poll() is None, (story.folder / "loop.log").read_text()


def test_apply_waits_for_a_healthy_dependency(story: Story) -> None:
    story.write("""
containers:
  db:
    image: base
    command: ["sh", "-c", "sleep 2; exec httpd -f -p 8080 -h /var/www"]
    healthcheck: {tcp: {port: 8080}, interval: 1s, timeout: 1s, retries: 30}
    stop_grace_period: 1s
  app:
    image: base
    command: ["sleep", "3600"]
    depends_on: {db: healthy}
    stop_grace_period: 1s
""")
    story.apply()
    db, app = story.wait_state("db", "running"), story.wait_state("app", "running")
    assert db.started_at is not None and app.started_at is not None
    assert app.started_at >= db.started_at + 1.5  # held until db answered on 8080


