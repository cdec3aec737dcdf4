"""`init: true` on the native driver: tini as PID 1 in the bundle (args and a read-only
mount, the image's Entrypoint/Cmd kept), the host's static tini found, a missing one
refused by name, and the host facts telling which one `reconcile info` sees."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.native import hostinfo
from reconciler.drivers.native.container import prepare
from reconciler.drivers.native.container.bundle import INIT_TARGET, oci_config
from reconciler.model.errors import DriverError
from tests import requirements
from tests.unit.native.native_bundle_helpers import make_inputs, make_spec

TINI = "/usr/bin/tini-static"


def init_config(image_config: dict[str, Any], **spec: Any) -> dict[str, Any]:
    inputs = make_inputs(make_spec(init=True, **spec), image_config=image_config,
                         init_binary=TINI)
    return oci_config(inputs)


@pytest.mark.parametrize(
    ("image_config", "spec", "app"),
    [
        ({"Cmd": ["httpd", "-f"]}, {}, ["httpd", "-f"]),
        ({"Entrypoint": ["ep"], "Cmd": ["a"]}, {}, ["ep", "a"]),
        ({"Entrypoint": ["ep"], "Cmd": ["a"]}, {"command": ("b",)}, ["ep", "b"]),
        ({"Entrypoint": ["ep"], "Cmd": ["a"]}, {"entrypoint": ("x",)}, ["x"]),
        ({"Cmd": ["sh"]}, {"command": ("--help",)}, ["--help"]),  # after `--`: the app's
    ],
    ids=["image cmd", "image entrypoint + cmd", "spec command", "spec entrypoint",
         "an option-like first arg"],
)
def test_init_runs_the_same_args_as_without_it_behind_tini(
        image_config: dict[str, Any], spec: dict[str, Any], app: list[str]) -> None:
    without = oci_config(make_inputs(make_spec(**spec), image_config=image_config))
    assert without["process"]["args"] == app
    assert init_config(image_config, **spec)["process"]["args"] == [INIT_TARGET, "--", *app]


def test_the_init_binary_is_bind_mounted_read_only_at_docker_init() -> None:
    config = init_config({"Cmd": ["sh"]})
    (mount,) = [m for m in config["mounts"] if m["destination"] == INIT_TARGET]
    assert INIT_TARGET == "/sbin/docker-init"
    assert mount["type"] == "bind" and mount["source"] == TINI
    assert {"ro", "nosuid", "nodev"} <= set(mount["options"])
    assert "rw" not in mount["options"]


def test_init_keeps_the_security_defaults() -> None:
    plain = oci_config(make_inputs(make_spec(), image_config={"Cmd": ["sh"]}))
    config = init_config({"Cmd": ["sh"]})
    assert config["process"]["noNewPrivileges"] is True
    assert config["process"]["capabilities"] == plain["process"]["capabilities"]
    assert config["process"]["user"] == plain["process"]["user"]
    assert config["linux"] == plain["linux"]
    assert config["mounts"] == [*plain["mounts"], *[m for m in config["mounts"]
                                                    if m["destination"] == INIT_TARGET]]


def test_a_read_only_root_still_gets_the_init() -> None:
    config = init_config({"Cmd": ["sh"]}, read_only=True)
    assert config["root"]["readonly"] is True
    assert INIT_TARGET in [m["destination"] for m in config["mounts"]]


def test_without_init_there_is_no_init_mount_nor_wrapper() -> None:
    config = oci_config(make_inputs(make_spec(), image_config={"Cmd": ["sh"]},
                                    init_binary=TINI))
    assert config["process"]["args"] == ["sh"]
    assert INIT_TARGET not in [m["destination"] for m in config["mounts"]]


def test_init_without_a_resolved_binary_is_an_error_naming_the_container() -> None:
    inputs = make_inputs(make_spec(init=True), image_config={"Cmd": ["sh"]})
    with pytest.raises(DriverError, match="shop-web: init: true but no init binary"):
        oci_config(inputs)


# --- the host's tini --------------------------------------------------------------------


def _elf(path: Path, interp: bool, bits: int = 64) -> Path:
    """A minimal ELF header and program header table (PT_LOAD, and PT_INTERP if asked)."""
    types = [1, 3] if interp else [1]
    if bits == 64:
        size, offset = 56, 64
        head = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0,
                                                             offset, 0, 0, 64, size,
                                                             len(types), 0, 0, 0)
    else:
        size, offset = 32, 52
        head = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0,
                                                             offset, 0, 0, 52, size,
                                                             len(types), 0, 0, 0)
    table = b"".join(struct.pack("<I", t) + bytes(size - 4) for t in types)
    path.write_bytes(head + table)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("bits", [64, 32])
def test_static_and_dynamic_elf_files_are_told_apart(tmp_path: Path, bits: int) -> None:
    assert hostinfo.is_static_elf(str(_elf(tmp_path / "static", False, bits)))
    assert not hostinfo.is_static_elf(str(_elf(tmp_path / "dynamic", True, bits)))


def test_what_is_not_an_elf_executable_is_not_static(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "short").write_bytes(b"\x7fELF\x02")
    for name in ("script", "short", "absent"):
        assert not hostinfo.is_static_elf(str(tmp_path / name))


def test_find_init_prefers_tini_static_and_passes_over_a_dynamic_one(tmp_path: Path) -> None:
    _elf(tmp_path / "tini-static", True)  # dynamic: no use inside an image
    static = _elf(tmp_path / "real-tini", False)
    (tmp_path / "docker-init").symlink_to(static)
    assert hostinfo.find_init(str(tmp_path)) == str(static)  # the link resolved
    os.unlink(tmp_path / "docker-init")
    assert hostinfo.find_init(str(tmp_path)) is None
    _elf(tmp_path / "tini-static", False)
    assert hostinfo.find_init(str(tmp_path)) == str(tmp_path / "tini-static")


def test_a_host_without_tini_refuses_init_naming_binary_and_package(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert prepare.init_binary(make_spec()) is None  # no init wanted, nothing looked up
    with pytest.raises(DriverError) as raised:
        prepare.init_binary(make_spec(init=True))
    message = str(raised.value)
    assert message.startswith("shop-web: init: true: no statically linked tini")
    assert "tini-static" in message and "apt-get install tini" in message


def test_host_facts_name_the_init_or_why_there_is_none(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from reconciler.drivers.native.driver import NativeDriver

    driver = NativeDriver(tmp_path / "state")
    monkeypatch.setenv("PATH", str(tmp_path))
    facts = driver.host_facts()
    assert "init" not in facts and "apt-get install tini" in facts["init_error"]
    _elf(tmp_path / "tini-static", False)
    facts = driver.host_facts()
    assert facts["init"] == str(tmp_path / "tini-static") and "init_error" not in facts


def test_debians_tini_static_is_found_on_this_host() -> None:
    requirements.need(os.path.exists(TINI), "tini is not installed (Debian package tini)")
    assert hostinfo.is_static_elf(TINI)
    assert not os.path.exists("/usr/bin/tini") or not hostinfo.is_static_elf("/usr/bin/tini")
    assert hostinfo.find_init() == TINI
