"""loopback.py without an engine: which engines see our files, what a `network: none`
container's create body gets, and the life of its /etc folder (made, rewritten when
cleared, removed, swept when orphaned and old)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.drivers.docker import loopback
from reconciler.model.desired import ContainerSpec, ImageSource, Mount

IMAGE = ImageSource(key="base", kind="oci", identity="oci:abc", path="/images/base")


def spec(**fields: object) -> ContainerSpec:
    made: dict[str, object] = {"stack": "shop", "key": "solo", "name": "shop-solo",
                               "replica": 1, "image": IMAGE, "network": "none"}
    return ContainerSpec(**{**made, **fields})  # type: ignore[arg-type]


def test_this_process_shares_its_own_files() -> None:
    assert loopback.shares_files(os.getpid())


def test_no_pid_or_a_dead_one_does_not() -> None:
    assert not loopback.shares_files(None)
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not loopback.shares_files(dead.pid)


def test_a_process_in_another_mount_namespace_does_not() -> None:
    if os.geteuid() != 0:
        pytest.skip("unshare -m needs root") if not os.environ.get("CI") else pytest.fail(
            "CI runs as root")
    other = subprocess.Popen(["unshare", "-m", "sleep", "30"])
    try:
        deadline = time.monotonic() + 5
        while (os.stat(f"/proc/{other.pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt")
               .st_ino and time.monotonic() < deadline):
            time.sleep(0.01)  # unshare has not exec'd sleep in its namespace yet
        assert not loopback.shares_files(other.pid)
    finally:
        other.kill()
        other.wait()


def test_only_network_none_is_wanted() -> None:
    assert loopback.wanted(spec())
    assert not loopback.wanted(spec(network="private"))
    assert not loopback.wanted(spec(network="host"))


def test_create_fields_bind_both_files_and_follow_read_only(tmp_path: Path) -> None:
    fields, binds = loopback.create_fields(spec(), tmp_path)
    assert fields == {"NetworkDisabled": True}
    assert [(b["Source"], b["Target"], b["ReadOnly"]) for b in binds] == [
        (str(tmp_path / "hosts"), "/etc/hosts", False),
        (str(tmp_path / "resolv.conf"), "/etc/resolv.conf", False)]
    _, frozen = loopback.create_fields(spec(read_only=True), tmp_path)
    assert all(b["ReadOnly"] for b in frozen)


def test_a_file_the_spec_mounts_itself_is_not_bound(tmp_path: Path) -> None:
    own = Mount(type="bind", source="/srv/hosts", target="/etc/hosts/")
    _, binds = loopback.create_fields(spec(mounts=(own,)), tmp_path)
    assert [b["Target"] for b in binds] == ["/etc/resolv.conf"]


def test_a_folder_is_made_rewritten_when_cleared_and_removed(tmp_path: Path) -> None:
    folders = loopback.EtcFolders(tmp_path)
    token = folders.make(spec(hostname="solo-host", dns=("10.1.2.3",)))
    path = folders.path("shop", token)
    assert "solo-host" in (path / "hosts").read_text()
    assert "nameserver 10.1.2.3" in (path / "resolv.conf").read_text()
    assert oct(path.stat().st_mode & 0o777) == oct(0o700)
    assert (path / "hosts").stat().st_mode & 0o777 == 0o644
    (path / "resolv.conf").write_text("")
    (path / "hosts").unlink()
    folders.ensure("shop", token, "solo-host", ("10.1.2.3",))
    assert "solo-host" in (path / "hosts").read_text()
    assert "nameserver 10.1.2.3" in (path / "resolv.conf").read_text()
    folders.remove("shop", token)
    assert not (tmp_path / "etc" / "shop").exists()


def test_sweep_removes_old_orphans_only(tmp_path: Path) -> None:
    folders = loopback.EtcFolders(tmp_path)
    live, young, old = (folders.make(spec()) for _ in range(3))
    other_stack = folders.make(spec(stack="other", name="other-solo"))
    long_ago = time.time() - loopback.ORPHAN_AGE - 5
    for token in (live, old):
        os.utime(folders.path("shop", token), (long_ago, long_ago))
    os.utime(folders.path("other", other_stack), (long_ago, long_ago))
    folders.sweep({"shop"}, {("shop", live)})
    assert sorted(os.listdir(tmp_path / "etc" / "shop")) == sorted([live, young])
    assert folders.path("other", other_stack).exists()  # not a stack that was observed
    folders.sweep(None, set())
    assert not folders.path("other", other_stack).exists()
    assert folders.path("shop", young).exists()


def test_sweep_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    folders = loopback.EtcFolders(tmp_path / "root")
    (tmp_path / "root" / "etc" / "shop").mkdir(parents=True)
    link = folders.path("shop", "deadbeef")
    link.symlink_to(outside)
    long_ago = time.time() - loopback.ORPHAN_AGE - 5
    os.utime(link, (long_ago, long_ago), follow_symlinks=False)
    folders.sweep(None, set())
    assert (outside / "keep").read_text() == "x"
