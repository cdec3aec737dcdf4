"""hostinfo.py on fake /sys trees: cgroup mode, runtime choice, host limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.drivers.native import hostinfo
from reconciler.model.errors import ReconcileError, RuntimeMissing

BOTH = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_unified_root_is_v2(tmp_path: Path) -> None:
    _touch(tmp_path / "cgroup.controllers")
    assert hostinfo.cgroup_mode(str(tmp_path)) == "v2"


def test_v1_controllers_with_unified_mount_is_hybrid(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    _touch(tmp_path / "unified" / "cgroup.controllers")
    assert hostinfo.cgroup_mode(str(tmp_path)) == "hybrid"


def test_v1_controllers_only_is_v1(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "unified").mkdir()  # an unmounted mount point is not a v2 hierarchy
    assert hostinfo.cgroup_mode(str(tmp_path)) == "v1"


def test_missing_cgroup_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReconcileError, match="no cgroup filesystem"):
        hostinfo.cgroup_mode(str(tmp_path / "absent"))


def test_this_host_reports_a_known_mode() -> None:
    assert hostinfo.cgroup_mode() in ("v1", "hybrid", "v2")


@pytest.mark.parametrize(
    "mode, available, expected",
    [
        ("v2", BOTH, "crun"),
        ("v2", {"runc": "/usr/sbin/runc"}, "runc"),
        ("hybrid", BOTH, "runc"),
        ("v1", BOTH, "runc"),
    ],
)
def test_runtime_preference(
    mode: hostinfo.CgroupMode, available: dict[str, str], expected: str
) -> None:
    choice = hostinfo.choose_runtime(mode, available)
    assert (choice.name, choice.path, choice.warning) == (expected, available[expected], None)


def test_crun_only_on_hybrid_is_used_with_a_warning() -> None:
    choice = hostinfo.choose_runtime("hybrid", {"crun": "/usr/bin/crun"})
    assert choice.name == "crun"
    assert choice.warning and "cannot apply resource limits" in choice.warning


def test_override_is_honoured_and_warned_on_v1() -> None:
    assert hostinfo.choose_runtime("v2", BOTH, override="runc").name == "runc"
    choice = hostinfo.choose_runtime("v1", BOTH, override="crun")
    assert choice.path == "/usr/bin/crun" and choice.warning


def test_missing_runtime_says_how_to_install() -> None:
    with pytest.raises(RuntimeMissing, match="apt-get install runc"):
        hostinfo.choose_runtime("v2", {})
    with pytest.raises(RuntimeMissing, match="'crun' was requested but is not installed"):
        hostinfo.choose_runtime("v2", {"runc": "/usr/sbin/runc"}, override="crun")


def test_find_runtimes_searches_the_given_path(tmp_path: Path) -> None:
    runc = tmp_path / "runc"
    runc.write_text("#!/bin/sh\n")
    runc.chmod(0o755)
    (tmp_path / "crun").write_text("not executable")
    assert hostinfo.find_runtimes(path=str(tmp_path)) == {"runc": str(runc)}
