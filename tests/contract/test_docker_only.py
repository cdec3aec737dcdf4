"""What only the docker driver has to prove: containers reconcile did not make (by hand,
by `docker compose`) are never touched, even with our name, and the clash is an error
naming the other container."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

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
