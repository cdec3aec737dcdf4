"""The image's own User, WorkingDir, StopSignal and Healthcheck, honoured as Docker honours
them, on the real kernel: defaults the spec overrides, checked before they reach runc."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.native.driver import NativeDriver
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource
from reconciler.model.errors import ReconcileError
from reconciler.model.hashing import config_hash
from tests import image_factory as f
from tests.integration.native_helpers import find_leaks, require_host, wait_for

pytestmark = pytest.mark.integration

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
TRAP = ("trap 'echo got-usr1; exit 0' USR1; trap 'echo got-term; exit 0' TERM; "
        "echo ready; while true; do sleep 0.1; done")
CHECK = {"Test": ["CMD-SHELL", "test -d /work"], "Interval": 2_000_000_000,
         "Timeout": 1_000_000_000, "Retries": 2}


def busybox_entries() -> list[f.Entry]:
    busybox = shutil.which("busybox") or "/bin/busybox"
    entries = [f.directory("bin"), f.directory("etc"), f.directory("tmp", mode=0o1777),
               f.directory("work", uid=65534, gid=65534),
               f.file("bin/busybox", Path(busybox).read_bytes(), mode=0o755),
               f.file("etc/passwd", PASSWD), f.file("etc/group", GROUP)]
    return entries + [f.symlink(f"bin/{a}", "busybox") for a in ("sh", "sleep", "test", "echo")]


class Images:
    def __init__(self, root: Path) -> None:
        self.root = root

    def source(self, key: str, **config: Any) -> ImageSource:
        layout = self.root / key
        f.write_oci_layout(layout, [busybox_entries()],
                           config={"Env": ["PATH=/bin"], "Cmd": ["sh", "-c", TRAP], **config})
        return ImageSource(key=key, kind="oci", identity=f"test-defaults-{key}",
                           path=str(layout))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[NativeDriver, Images, set[str]]]:
    require_host()
    driver = NativeDriver(tmp_path / "state")
    names: set[str] = set()
    yield driver, Images(tmp_path / "images"), names
    for name in names:
        with contextlib.suppress(ReconcileError):
            driver.remove(name)
    assert find_leaks(driver, names) == []


def make(driver: NativeDriver, names: set[str], image: ImageSource, key: str,
         **fields: Any) -> ContainerSpec:
    driver.ensure_image(image)
    spec = ContainerSpec(stack="imgdef", key=key, name=f"imgdef-{key}", replica=1, image=image,
                         network="none", stop_grace_period=20.0, **fields)
    spec = records.replace(spec, config_hash=config_hash(spec))
    names.add(spec.name)
    driver.create(spec)
    driver.start(spec.name)
    return spec


def status_ids(pid: int) -> tuple[str, str]:
    lines = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                 .splitlines() if ":" in line)
    return lines["Uid"].split()[0], lines["Gid"].split()[0]


def test_user_workdir_stop_signal_and_healthcheck_come_from_the_image(host: Any) -> None:
    driver, images, names = host
    image = images.source("all", User="nobody", WorkingDir="/work", StopSignal="SIGUSR1",
                          Healthcheck=CHECK)
    spec = make(driver, names, image, "all")
    seen = wait_for(lambda: driver.observe(frozenset({"imgdef"})).by_name().get(spec.name),
                    10, "observed")
    assert seen.state == "running" and seen.pid
    assert status_ids(seen.pid) == ("65534", "65534")  # Docker runs User: nobody as 65534
    assert os.readlink(f"/proc/{seen.pid}/cwd").endswith("/work")
    assert seen.healthcheck is not None and seen.healthcheck.exec == (
        "/bin/sh", "-c", "test -d /work")
    assert (seen.healthcheck.interval, seen.healthcheck.timeout, seen.healthcheck.retries) == (
        2.0, 1.0, 2)
    assert driver.probe(seen, seen.healthcheck)  # runs in the container, as the image says
    began = time.monotonic()
    driver.stop(spec.name)  # the image's StopSignal, not SIGTERM, and no 20 s grace wait
    assert time.monotonic() - began < 10
    assert "got-usr1" in [line.text for line in driver.logs(spec.name)]


def test_the_spec_overrides_the_image(host: Any) -> None:
    driver, images, names = host
    image = images.source("over", User="nobody", WorkingDir="/work", StopSignal="SIGUSR1")
    spec = make(driver, names, image, "over", user="0:0", workdir="/tmp", stop_signal="SIGTERM")
    seen = driver.observe(frozenset({"imgdef"})).by_name()[spec.name]
    assert status_ids(seen.pid) == ("0", "0")
    assert os.readlink(f"/proc/{seen.pid}/cwd").endswith("/tmp")
    assert seen.healthcheck is None
    driver.stop(spec.name)
    assert "got-term" in [line.text for line in driver.logs(spec.name)]


@pytest.mark.parametrize(("config", "message"), [
    ({"User": "4294967295"}, "uid 4294967295 is out of range"),
    ({"User": "2147483648"}, "uid 2147483648 is out of range"),
    ({"WorkingDir": "/proc/self"}, "WorkingDir '/proc/self' is under /proc"),
    ({"WorkingDir": "relative/dir"}, "WorkingDir is not an absolute path"),
    ({"StopSignal": "KILL; rm -rf /"}, "StopSignal is not a signal name or number"),
    ({"Healthcheck": {"Test": ["SHELL", "x"]}}, "Healthcheck.Test is not [CMD"),
])
def test_bad_image_settings_are_refused_before_runc(host: Any, config: dict[str, Any],
                                                    message: str) -> None:
    driver, images, names = host
    image = images.source("bad", **config)
    with pytest.raises(ReconcileError) as refused:
        make(driver, names, image, "bad")
    assert message in str(refused.value)
    assert not driver.layout.container("imgdef-bad").root.exists()
