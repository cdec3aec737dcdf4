"""Deep trees made by a container, in its writable layer and in a named volume, do not
stop its removal; a mount inside a tree is never entered by a removal."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

from reconciler.model.desired import Mount, VolumeSpec
from reconciler.support.trees import remove_tree
from tests.integration import native_helpers
from tests.integration.native_helpers import NativeHarness, require_host

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native

DEPTH = 2200  # past Python's recursion limit, as a hostile container could
# Wrapped from the inside out, so no path ever gets longer than PATH_MAX on the way.
DIG = (f"mkdir t && i=0 && while [ $i -lt {DEPTH} ]; do mkdir u && mv t u/t && mv u t "
       "|| exit 1; i=$((i+1)); done && echo dug")


def test_deep_trees_in_the_container_and_its_volume_are_removed(native: NativeHarness) -> None:
    volume = VolumeSpec(native.stack, "data")
    native.driver.create_volume(volume)
    mount = Mount(type="volume", source="data", target="/data")
    spec = native.run("dig", ["sh", "-c", f"cd /tmp && {DIG} && cd /data && {DIG}"],
                      mounts=(mount,))
    record = native.exit_record(spec.name, timeout=60)
    assert record["exit_code"] == 0
    assert [line.text for line in native.driver.logs(spec.name)] == ["dug", "dug"]
    native.driver.remove(spec.name)
    native.names.discard(spec.name)
    assert not native.driver.layout.container(spec.name).root.exists()
    native.driver.remove_volume(volume)
    assert volume.full_name not in native.driver.volumes.names()


def test_a_mount_inside_a_tree_is_refused_not_entered(tmp_path: Path) -> None:
    require_host()
    inner = tmp_path / "tree" / "mnt"
    inner.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(inner)], check=True)
    try:
        (inner / "precious").write_text("mine")
        with pytest.raises(OSError) as failed:
            remove_tree(tmp_path / "tree")
        assert failed.value.errno == errno.EBUSY
        assert (inner / "precious").read_text() == "mine"
    finally:
        subprocess.run(["umount", str(inner)], check=True)
    remove_tree(tmp_path / "tree")
    assert not (tmp_path / "tree").exists()
