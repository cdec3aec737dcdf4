"""bundle.oci_config: mounts (order and options) and cgroup resources."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.drivers.native.container.bundle import ResolvedMount, oci_config
from reconciler.model.desired import Limits
from reconciler.model.errors import DriverError
from tests.unit.native.native_bundle_helpers import config_for, make_inputs, make_spec

ETC = {
    "/etc/hosts": "/state/shop-web/hosts",
    "/etc/hostname": "/state/shop-web/hostname",
    "/etc/resolv.conf": "/state/shop-web/resolv.conf",
}


def _mounts(**changes: Any) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = oci_config(make_inputs(**changes))["mounts"]
    return mounts


def test_default_mounts_in_order_with_docker_options() -> None:
    mounts = _mounts()
    assert [m["destination"] for m in mounts] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
    ]  # fmt: skip
    by_dest = {m["destination"]: m for m in mounts}
    assert by_dest["/dev"]["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert {"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"} <= set(
        by_dest["/dev/pts"]["options"]
    )
    assert "size=67108864" in by_dest["/dev/shm"]["options"]
    assert by_dest["/sys"]["type"] == "sysfs" and "ro" in by_dest["/sys"]["options"]
    assert by_dest["/sys/fs/cgroup"]["type"] == "cgroup"
    assert "ro" in by_dest["/sys/fs/cgroup"]["options"]


def test_user_mounts_follow_defaults_shallow_first_then_spec_order() -> None:
    mounts = _mounts(
        mounts=(
            ResolvedMount("bind", "/usr/share/html", "/home/me/html", read_only=True),
            ResolvedMount("volume", "/var/lib/web", "/state/volumes/shop-data"),
            ResolvedMount("tmpfs", "/tmp", size=64 * 1024 * 1024),
        )
    )
    user = mounts[7:]
    assert user == [
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777", "size=67108864"]},
        {"destination": "/usr/share/html", "type": "bind", "source": "/home/me/html",
         "options": ["rbind", "rprivate", "ro"]},
        {"destination": "/var/lib/web", "type": "bind", "source": "/state/volumes/shop-data",
         "options": ["rbind", "rprivate", "rw"]},
    ]  # fmt: skip


def test_parent_mounts_come_before_children_and_etc_files_after_an_etc_volume() -> None:
    mounts = _mounts(
        mounts=(
            ResolvedMount("bind", "/data/sub", "/h/sub"),
            ResolvedMount("volume", "/etc", "/state/volumes/etc"),
            ResolvedMount("volume", "/data", "/h/data"),
        ),
        etc_files=ETC,
    )
    order = [m["destination"] for m in mounts[7:]]
    assert order == ["/etc", "/data", "/data/sub", "/etc/hostname", "/etc/hosts",
                     "/etc/resolv.conf"]  # fmt: skip


def test_etc_files_are_bound_rw_or_ro_with_the_root() -> None:
    writable = {m["destination"]: m for m in _mounts(etc_files=ETC)}
    assert writable["/etc/hosts"] == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/state/shop-web/hosts",
        "options": ["rbind", "rprivate", "rw"],
    }
    readonly = oci_config(make_inputs(make_spec(read_only=True), etc_files=ETC))["mounts"]
    assert all("ro" in m["options"] for m in readonly if m["destination"].startswith("/etc/"))


def test_user_mount_replaces_a_default_or_generated_file() -> None:
    mounts = _mounts(
        mounts=(
            ResolvedMount("tmpfs", "/dev/shm", size=1024),
            ResolvedMount("bind", "/etc/hosts", "/home/me/hosts", read_only=True),
        ),
        etc_files=ETC,
    )
    shm = [m for m in mounts if m["destination"] == "/dev/shm"]
    hosts = [m for m in mounts if m["destination"] == "/etc/hosts"]
    assert len(shm) == 1 and "size=1024" in shm[0]["options"]
    assert [m["source"] for m in hosts] == ["/home/me/hosts"]


# --- resources -----------------------------------------------------------------------------


def test_no_limits_means_devices_only() -> None:
    resources = config_for()["linux"]["resources"]
    assert set(resources) == {"devices"}


def test_device_allow_list_denies_everything_else() -> None:
    devices = config_for()["linux"]["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    allowed = {(d["major"], d.get("minor")) for d in devices[1:]}
    assert allowed == {(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None)}
    assert all(d["type"] == "c" and d["allow"] for d in devices[1:])


def test_limits_map_to_cgroup_resources() -> None:
    limits = Limits(
        memory=256 * 2**20, memory_swap=512 * 2**20, cpus=0.5, cpu_shares=512, cpuset="0",
        pids=200,
    )  # fmt: skip
    config = config_for(limits=limits)
    resources = config["linux"]["resources"]
    assert resources["memory"] == {"limit": 268435456, "swap": 536870912}
    assert resources["cpu"] == {"quota": 50000, "period": 100000, "shares": 512, "cpus": "0"}
    assert resources["pids"] == {"limit": 200}
    assert config["linux"]["cgroupsPath"] == "/reconcile/shop-web"


def test_fractional_cpus_round_to_whole_microseconds() -> None:
    cpu = config_for(limits=Limits(cpus=1.333333))["linux"]["resources"]["cpu"]
    assert cpu == {"quota": 133333, "period": 100000}


def test_unlimited_swap_is_minus_one() -> None:
    memory = config_for(limits=Limits(memory=100, memory_swap=-1))["linux"]["resources"]
    assert memory["memory"] == {"limit": 100, "swap": -1}


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(memory_swap=100), "memory_swap needs a memory limit"),
        (Limits(memory=200, memory_swap=100), "cannot be below memory"),
    ],
)
def test_inconsistent_swap_is_refused(limits: Limits, message: str) -> None:
    with pytest.raises(DriverError, match=message):
        config_for(limits=limits)
