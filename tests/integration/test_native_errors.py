"""NativeDriver's error edge on the real kernel: a state folder that cannot be removed or
a file where a folder should be leaves the driver as a DriverError naming the container
and the operation, and the container can still be removed once the cause is gone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.model.errors import DriverError
from tests.integration import native_helpers
from tests.integration.native_helpers import NativeHarness

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native


def test_remove_of_an_unremovable_state_folder_is_a_driver_error(native: NativeHarness) -> None:
    spec = native.run("pinned", ["true"])
    native.exit_record(spec.name)
    pin = native.driver.layout.container(spec.name).logs / "pin"
    pin.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(pin)], check=True)  # EBUSY for rmdir
    try:
        with pytest.raises(DriverError) as caught:
            native.driver.remove(spec.name)
        assert str(caught.value).startswith(f"{spec.name}: remove failed: ")
        assert "Device or resource busy" in str(caught.value) and str(pin) in str(caught.value)
        assert isinstance(caught.value.__cause__, OSError)
    finally:
        subprocess.run(["umount", str(pin)], check=True)
    native.driver.remove(spec.name)  # the cause gone, remove finishes what it began
    assert native.leaks() == []


def test_restart_with_a_file_where_a_folder_should_be(native: NativeHarness) -> None:
    spec = native.run("etcfile", ["true"])
    native.exit_record(spec.name)
    etc = native.driver.layout.container(spec.name).etc
    shutil.rmtree(etc)
    etc.write_text("secret content that must not be quoted")
    with pytest.raises(DriverError) as caught:
        native.driver.start(spec.name)  # re-creates the runtime side: writes etc/ again
    message = str(caught.value)
    assert message.startswith(f"{spec.name}: start failed: ") and str(etc) in message
    assert "secret" not in message
    native.driver.remove(spec.name)  # a half re-created container is still removable
    assert native.leaks() == []


def test_init_on_a_host_without_tini_names_binary_and_package_and_makes_nothing(
        native: NativeHarness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = native.spec("init", ["sleep", "60"], init=True)
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))  # checked before anything is made, runc too
        with pytest.raises(DriverError) as caught:
            native.driver.create(spec)
    message = str(caught.value)
    assert message.startswith(f"{spec.name}: init: true: no statically linked tini")
    assert "tini-static" in message and "apt-get install tini" in message
    assert not native.driver.layout.container(spec.name).root.exists()
    assert native.observed(spec.name) is None
    native.names.discard(spec.name)  # nothing to remove
    assert native.leaks() == []
