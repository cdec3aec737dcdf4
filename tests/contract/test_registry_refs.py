"""`ref` images on both drivers, from a real docker-registry on 127.0.0.1 (the engine
treats loopback registries as insecure by default; so does the native puller): the
digest the planner compares is the registry's manifest digest on both, and a stack
naming the reference runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.model.desired import ImageSource
from reconciler.model.reference import normalize_reference
from tests.contract.conftest import Story
from tests.registry_helpers import Registry, started_registry, stop_registry

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.registry]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    running = started_registry()
    try:
        yield running
    finally:
        stop_registry(running)


def test_a_pulled_ref_has_the_registrys_manifest_digest(
        story: Story, registry: Registry, busybox_layout: Path) -> None:
    pushed = registry.push_layout("test/busybox", "1", busybox_layout)
    ref = f"{registry.host}/test/busybox:1"
    seen: list[tuple[str, int, int | None]] = []
    assert story.driver.pull_image(ref, lambda *p: seen.append(p)) == pushed
    image = ImageSource(ref, "ref", f"ref:{normalize_reference(ref)}", ref=normalize_reference(
        ref))
    assert story.driver.ensure_image(image) == pushed
    assert story.driver.observe().images[image.identity] == pushed
    story.write(f"""
containers:
  app:
    image: "{ref}"
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    story.apply()
    assert story.wait_state("app", "running").image_digest == pushed
    assert story.plan().empty
    digests = {i.digest for i in story.driver.list_images()}
    assert pushed in digests
