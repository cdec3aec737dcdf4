"""The driver contract suite's fixtures: one FullDriver per driver (`native` on a
temporary state dir, `docker` on a private dockerd started once per session), the busybox
test image (scripts/make-busybox-image.py, offline), and `story`: a stack file written
from YAML, applied with the real planner and executor (engine.converge), and torn down
(`down --volumes`) after the test with a check that nothing of it is left."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.base import FullDriver
from reconciler.engine.converge import converge, make_plan
from reconciler.engine.convergence import Convergence
from reconciler.model import labels as labelkeys
from reconciler.model.actions import Plan
from reconciler.model.desired import Desired
from reconciler.model.observed import ObservedContainer
from reconciler.planner.plan import PlanOptions
from reconciler.planner.render import render_text
from reconciler.spec.stacks import load_stacks
from tests.docker_engine import docker_engine
from tests.integration.native_helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
DRIVERS = ["native", "docker"]


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("busybox-oci")
    subprocess.run([sys.executable, str(REPO / "scripts" / "make-busybox-image.py"), str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    with docker_engine() as engine:
        yield engine.host


def make_driver(kind: str, state_dir: Path, request: pytest.FixtureRequest) -> FullDriver:
    if kind == "native":
        from reconciler.drivers.native.driver import NativeDriver
        from tests.integration.native_helpers import require_host

        require_host()
        return NativeDriver(state_dir)
    from reconciler.drivers.docker.driver import DockerDriver

    return DockerDriver(state_dir, host=request.getfixturevalue("docker_host"))


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> FullDriver:
    return make_driver(request.param, tmp_path / "state", request)


class Story:
    """A user's stack on one driver: write the file, apply, plan, look, tear down."""

    def __init__(self, driver: FullDriver, folder: Path, image: Path, stack: str) -> None:
        self.driver, self.folder, self.image, self.stack = driver, folder, image, stack
        self.path = folder / f"{stack}.yaml"
        self.names: set[str] = set()
        self.state_dir: Path | None = None  # the driver's, for `reconcile run`

    def write(self, body: str, **values: Any) -> Path:
        head = f"version: 1\nname: {self.stack}\nimages:\n  base: {{oci: {self.image}}}\n"
        self.path.write_text(head + (body.format(**values) if values else body))
        return self.path

    def desired(self) -> Desired:
        desired = load_stacks([self.path])
        self.names |= {c.name for c in desired.containers()}
        return desired

    def options(self, **fields: Any) -> PlanOptions:
        return PlanOptions(scope=frozenset({self.stack}), now=time.time(), **fields)

    def plan(self, **fields: Any) -> Plan:
        return make_plan(self.desired(), self.driver, self.options(**fields))

    def plan_text(self, **fields: Any) -> str:
        return render_text(self.plan(**fields))

    def apply(self, **fields: Any) -> Convergence:
        done = converge(self.desired(), self.driver, self.options(**fields), wait=30.0)
        errors = [f"{o.action.id}: {o.error}" for r in done.results for o in r.failed]
        assert done.ok, f"apply failed: {errors}"
        return done

    def down(self) -> Convergence:
        return converge(Desired(), self.driver,
                        self.options(prune=True, remove_volumes=True))

    def seen(self, key: str) -> ObservedContainer | None:
        observed = self.driver.observe(frozenset({self.stack}))
        return observed.by_name().get(f"{self.stack}-{key}")

    def wait_state(self, key: str, state: str, timeout: float = 15.0) -> ObservedContainer:
        found: ObservedContainer = wait_for(
            lambda: (c := self.seen(key)) is not None and c.state == state and c, timeout,
            f"{key} {state}")
        return found

    def leftovers(self) -> list[str]:
        observed = self.driver.observe(frozenset({self.stack}))
        found = [f"container {c.name}" for c in observed.containers]
        found += [f"volume {v}" for v in observed.volumes]
        if self.driver.name == "docker":
            api: Any = self.driver.api  # type: ignore[attr-defined]
            selector = {"label": f"{labelkeys.STACK}={self.stack}"}
            found += [f"engine container {c['Id'][:12]}" for c in api.containers(
                all=True, filters=selector)]
            found += [f"engine network {n['Name']}" for n in api.networks(filters=selector)]
            found += [f"engine volume {v['Name']}" for v in
                      api.volumes(filters=selector).get("Volumes") or []]
            etc = self.driver.root / "etc" / self.stack  # type: ignore[attr-defined]
            found += [f"etc folder {etc}"] if etc.exists() else []
        else:
            from tests.integration.native_helpers import find_leaks

            found += find_leaks(self.driver, self.names)  # type: ignore[arg-type]
        return found


@pytest.fixture
def story(driver: FullDriver, tmp_path: Path, busybox_layout: Path) -> Iterator[Story]:
    told = Story(driver, tmp_path, busybox_layout, "c" + uuid.uuid4().hex[:8])
    told.state_dir = tmp_path / "state"
    yield told
    done = told.down()
    errors = [f"{o.action.id}: {o.error}" for r in done.results for o in r.failed]
    leftovers = told.leftovers()
    assert not errors and not leftovers, f"down failed: {errors}; left: {leftovers}"
