"""The native driver's error edge: backend exceptions leave NativeDriver as DriverError
naming the target and the operation, never with a file's content."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.driver import NativeDriver
from reconciler.drivers.native.edge import backend_errors, describe, guarded, target_of
from reconciler.model.desired import ImageSource, VolumeSpec
from reconciler.model.errors import DriverError, ImageError, NotFound, ReconcileError


def test_describe_names_the_reason_and_path_not_the_data() -> None:
    assert describe(PermissionError(13, "Permission denied", "/s/c")) == "Permission denied: /s/c"
    assert describe(OSError(18, "Invalid cross-device link", "/a", None, "/b")) == (
        "Invalid cross-device link: /a -> /b")  # fmt: skip
    failed = subprocess.CalledProcessError(2, ["/usr/bin/ip", "secret-arg"], stderr="secret")
    assert describe(failed) == "ip exited with status 2"
    timeout = subprocess.TimeoutExpired(["runc", "x"], 1.5)
    assert describe(timeout) == "runc did not finish within 1.5s"
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads('{"password": "hunter2"')
    text = describe(caught.value)
    assert text.startswith("damaged JSON record (") and "hunter2" not in text


def test_own_errors_pass_and_other_bugs_are_not_hidden() -> None:
    with pytest.raises(NotFound, match=r"^c: gone$"), backend_errors("c", "start"):
        raise NotFound("c", "gone")
    with pytest.raises(KeyError), backend_errors("c", "start"):  # a bug stays a bug
        raise KeyError("x")
    full = r"^img: ensure image failed: No space left"
    with pytest.raises(ImageError, match=full), backend_errors("img", "ensure image", image=True):
        raise OSError(28, "No space left on device", "/s/images/tmp")


def test_target_is_the_first_argument() -> None:
    image = ImageSource(key="base", kind="oci", identity="oci:x", path="/i")
    assert target_of(("s-web",)) == "s-web"
    assert target_of((VolumeSpec("s", "data"),)) == "s-data"
    assert target_of((image,)) == "base"
    assert target_of(()) == "native driver"


def test_errors_while_iterating_are_converted() -> None:
    def lines() -> Iterator[str]:
        yield "one"
        raise IsADirectoryError(21, "Is a directory", "/s/c/logs/container.log")

    items = guarded("c", "logs", lines())
    assert next(items) == "one"
    with pytest.raises(DriverError, match=r"^c: logs failed: Is a directory: /s/c/logs"):
        next(items)


def test_a_file_where_the_volumes_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "volumes").write_text("not a folder")
    driver = NativeDriver(tmp_path)
    with pytest.raises(DriverError, match=r"^s-data: create volume failed: .*volumes") as caught:
        driver.create_volume(VolumeSpec("s", "data"))
    assert isinstance(caught.value.__cause__, OSError)
    assert "not a folder" not in str(caught.value)


def test_a_file_where_the_containers_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "containers").write_text("")
    with pytest.raises(DriverError, match=r"observe failed: Not a directory: .*containers"):
        NativeDriver(tmp_path).observe()


def test_a_log_file_that_is_a_folder_fails_when_read(tmp_path: Path) -> None:
    driver = NativeDriver(tmp_path)
    logs = driver.layout.container("s-web").logs
    (logs / "container.log").mkdir(parents=True)
    with pytest.raises(DriverError, match=r"^s-web: logs failed: Is a directory"):
        list(driver.logs("s-web"))


def test_every_public_method_is_behind_the_edge() -> None:
    """A new public method must convert its backend errors too (wrap it in @edge)."""
    own = [c for c in NativeDriver.__mro__ if c.__module__.startswith("reconciler.drivers.native")]
    assert len(own) >= 2  # the driver and its operations half
    methods = {n: m for c in own for n, m in vars(c).items()
               if not n.startswith("_") and callable(m)}
    plain = [n for n, m in methods.items() if not hasattr(m, "__wrapped__")]
    assert plain == []
    assert issubclass(DriverError, ReconcileError)
