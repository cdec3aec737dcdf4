"""The docker driver across an engine restart (its own dockerd, not the session's): the
event stream reconnects and reports what the restart stopped, and the containers are
re-adopted (started again, not replaced)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from reconciler.drivers.base import DriverEvent
from reconciler.drivers.docker.driver import DockerDriver
from reconciler.model.actions import Kind
from tests.contract.conftest import Story, wait_for
from tests.docker_engine import docker_engine

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_an_engine_restart_is_survived(tmp_path: Path, busybox_layout: Path) -> None:
    with docker_engine() as engine:
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        story = Story(driver, tmp_path, busybox_layout, "r" + uuid.uuid4().hex[:8])
        story.write("""
containers:
  app:
    image: base
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    restart: always
""")
        story.apply()
        before = story.wait_state("app", "running")
        deaths: list[DriverEvent] = []
        restarted = threading.Event()

        def on_event(event: DriverEvent) -> None:
            if restarted.is_set():
                deaths.append(event)

        subscription = driver.watch(on_event)
        try:
            engine.stop_daemon()
            restarted.set()
            engine.start()
            wait_for(lambda: any(e.name == before.name for e in deaths), 30,
                     "a death report after the reconnect")
        finally:
            subscription.close()
        assert story.wait_state("app", "exited").config_hash == before.config_hash
        assert [a.kind for a in story.plan().actions] == [Kind.START]  # nothing replaced
        story.apply()
        after = story.wait_state("app", "running")
        assert after.created_at == before.created_at and after.restart_count == 1
        story.down()
        assert story.leftovers() == []
