"""`reconcile sync` with images from a real docker-registry on 127.0.0.1 and the native
driver: a never-healthy revision is rolled back to the previous revision's image digest,
and `reconcile rollback STACK REV` puts back the digest that revision ran, though the tag
has moved since each time (the history pins `ref@sha256:...`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gitrepos import Repo
from tests.integration.loop_helpers import LoopHost, loop_host, wait_until
from tests.integration.test_sync import UNHEALTHY, in_force, start_sync
from tests.registry_helpers import Registry, retag_with_env, started_registry, stop_registry

pytestmark = [pytest.mark.integration, pytest.mark.registry]
__all__ = ["loop_host"]

STACK = """\
version: 1
name: {name}
images:
  app: {{ref: "{ref}", pull: always}}
containers:
  web:
    image: app
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    restart: always
    env: {{VERSION: "{version}"}}
"""


@pytest.fixture()
def registry() -> Iterator[Registry]:
    server = started_registry()
    yield server
    stop_registry(server)


def inspect(host: LoopHost, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(host.cli("inspect", f"{name}/web").stdout)
    return doc


def image_env(host: LoopHost, name: str) -> str:
    """The environment the container's process really has (the image's Env included)."""
    return host.cli("exec", f"{name}/web", "--", "env").stdout


def test_rollbacks_restore_the_digests_a_revision_ran_though_the_tag_moved(
        loop_host: LoopHost, registry: Registry) -> None:
    host, name = loop_host, f"{loop_host.prefix}r"
    host.names.add(name)
    old = registry.push_layout("app", "1", host.image)  # the tag points at digest A
    ref = f"{registry.host}/app:1"
    repo = Repo(host.root / "origin")
    first = repo.commit({"stacks/app.yaml": STACK.format(name=name, ref=ref, version=1)}, "v1")
    start_sync(host, repo)
    wait_until(lambda: in_force(host, name).get("commit") == first, what="v1 in force")
    assert inspect(host, name)["image_digest"] == old

    new = retag_with_env(registry, host.image, "app", "1")  # the tag now says digest B
    assert new != old
    second = repo.commit({"stacks/app.yaml": STACK.format(name=name, ref=ref, version=2)}, "v2")
    wait_until(lambda: in_force(host, name).get("commit") == second, what="v2 in force")
    assert inspect(host, name)["image_digest"] == new
    assert "MOVED=1" in image_env(host, name)
    rows = json.loads(host.cli("history", name, "-o", "json").stdout)
    assert [(r["commit"], r["images"]) for r in rows] == [
        (first, {f"ref:{ref}": old}), (second, {f"ref:{ref}": new})]

    # The tag moves again (digest C) and a never-healthy revision pulls it: the automatic
    # rollback runs revision 2 again with its own digest B, not the tag's C.
    third = retag_with_env(registry, host.image, "app", "1", moved="3")
    sick = repo.commit({"stacks/app.yaml": STACK.format(name=name, ref=ref, version=3)
                        + UNHEALTHY}, "never healthy")
    wait_until(lambda: (in_force(host, name).get("failing") or {}).get("commit") == sick,
               what="the sick commit rolled back")
    assert in_force(host, name)["failing"]["result"] == "rolled-back"
    wait_until(lambda: in_force(host, name).get("pending") is None, what="v2 back and ready")
    assert in_force(host, name)["commit"] == second and in_force(host, name)["held"]
    assert inspect(host, name)["image_digest"] == new != third
    env = image_env(host, name)
    assert "VERSION=2" in env and "MOVED=1" in env and "MOVED=3" not in env

    done = host.cli("rollback", name, first[:10])
    assert f"rolled back {name} to {first[:12]}" in done.stdout
    seen = inspect(host, name)
    assert seen["image_digest"] == old  # pinned: not what the tag says now
    automatic, requested = host.events("loop-sync-rolled-back")
    assert automatic["to"] == second and automatic["images"] == {f"ref:{ref}": new}
    assert requested["to"] == first and requested["images"] == {f"ref:{ref}": old}
    env = image_env(host, name)
    assert "VERSION=1" in env and "MOVED=1" not in env
    assert in_force(host, name)["commit"] == first and in_force(host, name)["held"]
    last = json.loads(host.cli("history", name, "-o", "json").stdout)[-1]
    assert (last["commit"], last["result"], last["action"]) == (first, "ok", "rollback")
    assert last["images"] == {f"ref:{ref}": old}
