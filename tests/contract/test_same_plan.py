"""For the same situation on the host, both drivers lead to the same plan, word for word:
what they observe (labels, recorded spec, digests, states) is the planner's whole input."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.contract.conftest import DRIVERS, Story, make_driver

pytestmark = [pytest.mark.integration, pytest.mark.docker]

BEFORE = """
volumes:
  data: {}
containers:
  app:
    image: base
    command: ["sleep", "3600"]
    env: {MODE: a, API_TOKEN: s3cret}
    volumes: ["data:/data", "./site:/var/www:ro"]
    limits: {memory: 64Mi}
    stop_grace_period: 1s
  old:
    image: base
    command: ["sleep", "3600"]
    stop_grace_period: 1s
"""

AFTER = """
volumes:
  data: {}
containers:
  app:
    image: base
    command: ["sleep", "3601"]
    env: {MODE: b, API_TOKEN: n3w}
    volumes: ["data:/data", "./site:/var/www:ro"]
    limits: {memory: 32Mi, pids: 40}
    stop_grace_period: 1s
  new:
    image: base
    command: ["sleep", "3600"]
    stop_grace_period: 1s
"""


def test_both_drivers_plan_the_same_changes(tmp_path: Path, busybox_layout: Path,
                                            request: pytest.FixtureRequest) -> None:
    stack = "p" + uuid.uuid4().hex[:8]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("v1\n")
    texts: dict[str, list[str]] = {}
    observed: dict[str, tuple[object, ...]] = {}
    for kind in DRIVERS:
        story = Story(make_driver(kind, tmp_path / kind, request), tmp_path, busybox_layout,
                      stack)
        try:
            story.write(BEFORE)
            texts[kind] = [story.plan_text()]
            story.apply()
            seen = story.wait_state("app", "running")
            observed[kind] = (seen.labels, seen.recorded_spec, seen.config_hash,
                              seen.image_digest, seen.healthcheck, seen.restart_count)
            texts[kind].append(story.plan_text())
            story.write(AFTER)
            (tmp_path / "site" / "index.html").write_text("v2\n")
            texts[kind] += [story.plan_text(), story.plan_text(prune=True)]
        finally:
            (tmp_path / "site" / "index.html").write_text("v1\n")
            story.down()
        assert story.leftovers() == []
    assert observed["native"] == observed["docker"]  # what the planner reads, the same
    assert texts["native"] == texts["docker"]
    assert "replace" in texts["docker"][2] and "env.API_TOKEN" in texts["docker"][2]
