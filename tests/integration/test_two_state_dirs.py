"""Two state directories side by side with the same stack: every host-wide name (cgroup,
netns, veth, bridge, nft chains) is their own, so one's limits, `down` and networking never
touch the other's."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.driver import NativeDriver
from reconciler.drivers.native.network import links
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource, Limits
from reconciler.model.hashing import config_hash
from tests.integration import native_helpers
from tests.integration.native_helpers import find_leaks, require_host

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
MiB = 2**20


@pytest.fixture
def twins(tmp_path: Path, busybox_image: ImageSource
          ) -> Iterator[tuple[NativeDriver, NativeDriver, str]]:  # fmt: skip
    require_host()
    stack = "tw" + uuid.uuid4().hex[:6]
    one, two = NativeDriver(tmp_path / "one"), NativeDriver(tmp_path / "two")
    for driver in (one, two):
        driver.ensure_image(busybox_image)
    yield one, two, stack
    for driver in (one, two):
        for seen in driver.observe(frozenset({stack})).containers:
            driver.remove(seen.name)
        assert find_leaks(driver, {f"{stack}-web"}) == []


def run(driver: NativeDriver, image: ImageSource, stack: str, memory: int) -> ContainerSpec:
    spec = ContainerSpec(stack=stack, key="web", name=f"{stack}-web", replica=1, image=image,
                         command=tuple(SLEEPER), limits=Limits(memory=memory),
                         stop_grace_period=2.0)
    spec = records.replace(spec, config_hash=config_hash(spec))
    driver.create(spec)
    driver.start(spec.name)
    return spec


def test_same_stack_in_two_state_dirs_shares_nothing(
        twins: tuple[NativeDriver, NativeDriver, str], busybox_image: ImageSource) -> None:
    one, two, stack = twins
    spec = run(one, busybox_image, stack, 64 * MiB)
    run(two, busybox_image, stack, 96 * MiB)
    name = spec.name
    assert one.cgroups.existing_dirs(name) and two.cgroups.existing_dirs(name)
    assert not set(one.cgroups.existing_dirs(name)) & set(two.cgroups.existing_dirs(name))
    for driver, memory in ((one, 64 * MiB), (two, 96 * MiB)):  # neither overwrote the other
        limit = driver.cgroups.controller_dir("memory", name)
        assert limit is not None
        files = ("memory.max",) if driver.cgroups.is_v2 else ("memory.limit_in_bytes",)
        assert int((limit / files[0]).read_text()) == memory
    names = [(d.network.bridge(stack), d.network.veth(name), d.network.net_id(stack))
             for d in (one, two)]
    assert len({n[0] for n in names}) == 2 and len({n[1] for n in names}) == 2
    present = set(links.links())
    assert {names[0][0], names[1][0], names[0][1], names[1][1]} <= present
    ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True,
                             check=True).stdout
    assert names[0][2] in ruleset and names[1][2] in ruleset
    addresses = [d.observe(frozenset({stack})).by_name()[name].addresses for d in (one, two)]
    assert addresses[0] and addresses[1]

    one.remove(name)  # `down` in one state dir ...
    seen = two.observe(frozenset({stack})).by_name()[name]
    assert seen.state == "running"  # ... leaves the other's container, cgroup and network
    assert two.cgroups.existing_dirs(name) and names[1][0] in set(links.links())
    assert names[0][0] not in set(links.links())
