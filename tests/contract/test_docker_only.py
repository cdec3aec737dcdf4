"""What only the docker driver has to prove: containers reconcile did not make (by hand,
by `docker compose`) are never touched, even with our name, and the clash is an error
naming the other container; a `network: none` container gets no engine network sandbox
but our own /etc files (loopback.py), which live and go with it."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.docker import loopback
from reconciler.drivers.docker.driver import DockerDriver
from reconciler.model.errors import DriverError
from tests.contract.conftest import Story

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_a_foreign_container_with_our_name_is_left_alone(
        tmp_path: Path, busybox_layout: Path, docker_host: str) -> None:
    driver = DockerDriver(tmp_path / "state", host=docker_host)
    story = Story(driver, tmp_path, busybox_layout, "f" + uuid.uuid4().hex[:8])
    story.write("""
containers:
  app:
    image: base
    command: ["sleep", "3600"]
""")
    api: Any = driver.api
    image = story.desired().stacks[0].images[0]
    driver.ensure_image(image)  # the foreign container uses the same image
    foreign = api.create_container(driver.images.engine_ref(image), command=["sleep", "3600"],
                                   name=f"{story.stack}-app")
    try:
        assert driver.observe(frozenset({story.stack})).containers == ()
        with pytest.raises(DriverError, match=foreign["Id"][:12]):
            driver.create(story.desired().stacks[0].containers[0])
        with pytest.raises(DriverError, match="does not manage"):
            driver.remove(f"{story.stack}-app")
        assert story.down().plans[0].empty
        assert api.inspect_container(foreign["Id"])["Id"] == foreign["Id"]
    finally:
        api.remove_container(foreign["Id"], force=True)
        story.down()
    assert story.leftovers() == []


SOLO = """
containers:
  solo:
    image: base
    command: ["sleep", "3600"]
    network: none
    hostname: solo-host
    restart: always
    stop_grace_period: 1s
"""


def _docker_story(tmp_path: Path, busybox_layout: Path, docker_host: str) -> Story:
    driver = DockerDriver(tmp_path / "state", host=docker_host)
    return Story(driver, tmp_path, busybox_layout, "l" + uuid.uuid4().hex[:8])


def test_network_none_gets_no_engine_network_but_our_etc_binds(
        tmp_path: Path, busybox_layout: Path, docker_host: str) -> None:
    story = _docker_story(tmp_path, busybox_layout, docker_host)
    driver: Any = story.driver
    try:
        story.write(SOLO)
        story.apply()
        seen = story.wait_state("solo", "running")
        info = driver.api.inspect_container(seen.name)
        assert info["Config"].get("NetworkDisabled") is True
        folder = driver.root / "etc" / story.stack / info["Config"]["Labels"]["io.reconcile.etc"]
        binds = {m["Destination"]: m["Source"] for m in info["Mounts"]}
        assert binds == {"/etc/hosts": str(folder / "hosts"),
                         "/etc/resolv.conf": str(folder / "resolv.conf")}
        assert "io.reconcile.etc" not in seen.labels  # the driver's own, not the user's
        assert story.plan().empty, story.plan_text()
        for name in ("hosts", "resolv.conf"):  # a cleared state dir: rewritten at start
            (folder / name).unlink()
        driver.api.kill(seen.name)
        story.wait_state("solo", "exited")
        story.apply()
        again = story.wait_state("solo", "running")
        assert again.created_at == seen.created_at  # started again, not replaced
        assert "solo-host" in (folder / "hosts").read_text()
    finally:
        story.down()
    assert story.leftovers() == []
    assert not folder.exists()


def test_observe_sweeps_an_old_orphan_folder_and_keeps_a_young_one(
        tmp_path: Path, busybox_layout: Path, docker_host: str) -> None:
    story = _docker_story(tmp_path, busybox_layout, docker_host)
    driver: Any = story.driver
    try:
        story.write(SOLO)
        story.apply()
        story.wait_state("solo", "running")
        stack_folder = driver.root / "etc" / story.stack
        (live,) = os.listdir(stack_folder)
        old, young = stack_folder / ("0" * 16), stack_folder / ("1" * 16)
        for orphan in (old, young):
            orphan.mkdir()
            (orphan / "hosts").write_text("127.0.0.1 localhost\n")
        long_ago = time.time() - loopback.ORPHAN_AGE - 5
        os.utime(old, (long_ago, long_ago))
        os.utime(stack_folder / live, (long_ago, long_ago))
        driver.observe(frozenset({story.stack}))
        assert sorted(os.listdir(stack_folder)) == sorted([live, young.name])
        (young / "hosts").unlink()
        young.rmdir()
    finally:
        story.down()
    assert story.leftovers() == []
