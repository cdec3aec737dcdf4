"""Fixtures for native driver integration tests: a busybox image built once per session,
a NativeDriver on a temporary state dir, and a leak check after every test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.native.driver import NativeDriver
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource
from reconciler.model.hashing import config_hash
from tests import requirements

REPO = Path(__file__).resolve().parents[2]
RUNC = "/usr/sbin/runc"


def require_host() -> None:
    """Root and runc, or fail under CI (skip only on a developer machine)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if not (shutil.which("runc") or os.path.exists(RUNC)):
        missing.append("runc")
    if not missing:
        return
    requirements.missing(f"native integration tests need {' and '.join(missing)}")


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory: pytest.TempPathFactory) -> ImageSource:
    require_host()
    out = tmp_path_factory.mktemp("busybox-oci")
    script = REPO / "scripts" / "make-busybox-image.py"
    subprocess.run([sys.executable, str(script), str(out)], check=True, capture_output=True)
    return ImageSource(key="busybox", kind="oci", identity="test-busybox", path=str(out))


@pytest.fixture(scope="session")
def native_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("native-state")


class NativeHarness:
    """One test's view: the driver, a spec factory and the names it made."""

    def __init__(self, driver: NativeDriver, image: ImageSource) -> None:
        self.driver = driver
        self.image = image
        self.stack = "t" + uuid.uuid4().hex[:8]
        self.names: set[str] = set()

    def spec(self, key: str, command: list[str], **fields: Any) -> ContainerSpec:
        fields.setdefault("stop_grace_period", 2.0)
        spec = ContainerSpec(
            stack=self.stack, key=key, name=f"{self.stack}-{key}", replica=1,
            image=self.image, command=tuple(command), **fields,
        )  # fmt: skip
        self.names.add(spec.name)
        return records.replace(spec, config_hash=config_hash(spec))

    def run(self, key: str, command: list[str], **fields: Any) -> ContainerSpec:
        spec = self.spec(key, command, **fields)
        self.driver.create(spec)
        self.driver.start(spec.name)
        return spec

    def observed(self, name: str) -> Any:
        return self.driver.observe(frozenset({self.stack})).by_name().get(name)

    def wait_state(self, name: str, state: str, timeout: float = 10.0) -> Any:
        return wait_for(lambda: _in_state(self.observed(name), state), timeout, f"{name} {state}")

    def exit_record(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        path = self.driver.layout.container(name).exit
        wait_for(path.exists, timeout, f"{path}")
        # The monitor drains the container's pipes after writing the record.
        wait_for(lambda: not self.driver._monitor_alive(self.driver.layout.container(name)),
                 timeout, "monitor exit")  # fmt: skip
        record: dict[str, Any] = json.loads(path.read_text())
        return record

    def leaks(self) -> list[str]:
        return find_leaks(self.driver, self.names)


def _in_state(observed: Any, state: str) -> Any:
    return observed if observed is not None and observed.state == state else None


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def find_leaks(driver: NativeDriver, names: set[str]) -> list[str]:
    """Everything of `names` still on the host: runc state, mounts, cgroups, state dirs."""
    leaks = []
    runc_known = set(driver.runc.list_states())
    leaks += [f"runc container {n}" for n in sorted(names & runc_known)]
    state_root = str(driver.layout.root)
    with open("/proc/mounts", encoding="utf-8") as f:
        leaks += [f"mount {line.split()[1]}" for line in f if state_root in line.split()[1]]
    cgroups = driver.cgroups  # the driver's own names (per state directory)
    for name in sorted(names):
        leaks += [f"cgroup {d}" for d in cgroups.existing_dirs(name)]
        if driver.layout.container(name).root.exists():
            leaks.append(f"state dir of {name}")
    return leaks


@pytest.fixture
def native(busybox_image: ImageSource, native_state_dir: Path) -> Iterator[NativeHarness]:
    require_host()
    driver = NativeDriver(native_state_dir)
    driver.ensure_image(busybox_image)
    harness = NativeHarness(driver, busybox_image)
    yield harness
    errors = []
    for name in sorted(harness.names):
        try:
            driver.remove(name)
        except Exception as e:
            errors.append(f"remove {name}: {e}")
    leaks = harness.leaks()
    assert not errors and not leaks, f"cleanup failed: {errors} leaked: {leaks}"


def forked_by_zygote(state_dir: Path, comm: bytes) -> list[int]:
    """The zygote (comm reconcile-zyg), its template (reconcile-tpl) or the monitors
    (reconcile-mon) of `state_dir`: forked, they keep the zygote's command line, which
    names the state dir's lock."""
    lock = f"{state_dir}/monitor.lock".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if lock in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def monitor_rss_kib(driver: NativeDriver, name: str) -> int:
    pid = json.loads(driver.layout.container(name).monitor_pid.read_text())
    out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True)
    return int(out.stdout.strip())
