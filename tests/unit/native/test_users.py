"""users.resolve_user against fake image layers: lookups, whiteouts and symlink safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.drivers.native.container.users import ResolvedUser, UserLookupError, resolve_user

PASSWD = """root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www:x:101:102:web:/var/www:/bin/sh
broken line
"""
GROUP = """root:x:0:
wheel:x:10:www,alice
www:x:102:
tty:x:5:www
"""


def _layer(root: Path, name: str, files: dict[str, str]) -> str:
    layer = root / name
    for relative, content in files.items():
        path = layer / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    layer.mkdir(parents=True, exist_ok=True)
    return str(layer)


@pytest.fixture
def image(tmp_path: Path) -> list[str]:
    return [_layer(tmp_path, "l0", {"etc/passwd": PASSWD, "etc/group": GROUP})]


@pytest.mark.parametrize(
    "user, expected",
    [
        (None, ResolvedUser(0, 0, (), "/root")),
        ("root", ResolvedUser(0, 0, (), "/root")),
        ("www", ResolvedUser(101, 102, (5, 10), "/var/www")),
        ("101", ResolvedUser(101, 102, (5, 10), "/var/www")),
        ("www:wheel", ResolvedUser(101, 10, (), "/var/www")),
        ("www:7", ResolvedUser(101, 7, (), "/var/www")),
        ("4242", ResolvedUser(4242, 0, (), "/")),
        ("4242:4343", ResolvedUser(4242, 4343, (), "/")),
    ],
)
def test_user_forms(image: list[str], user: str | None, expected: ResolvedUser) -> None:
    assert resolve_user(user, image) == expected


@pytest.mark.parametrize(
    "user, message",
    [
        ("nobody", "user 'nobody' not found"),
        ("www:staff", "group 'staff' not found"),
        (":5", "the user part is empty"),
        ("99999999999", "out of range"),
    ],
)
def test_unresolvable_users(image: list[str], user: str, message: str) -> None:
    with pytest.raises(UserLookupError, match=message):
        resolve_user(user, image)


def test_image_without_passwd_runs_numeric_ids_and_root(tmp_path: Path) -> None:
    layers = [_layer(tmp_path, "empty", {})]
    assert resolve_user(None, layers) == ResolvedUser(0, 0, (), "/root")
    assert resolve_user("1000:1000", layers) == ResolvedUser(1000, 1000)
    with pytest.raises(UserLookupError):
        resolve_user("www", layers)


def test_top_layer_wins(tmp_path: Path) -> None:
    lower = _layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    upper = _layer(tmp_path, "upper", {"etc/passwd": "www:x:500:500::/:/bin/sh\n"})
    assert resolve_user("www", [upper, lower]).uid == 500
    assert resolve_user("www", [_layer(tmp_path, "other", {"etc/motd": "hi"}), lower]).uid == 101


@pytest.mark.parametrize("marker", ["etc/.wh.passwd", "etc/.wh..wh..opq"])
def test_whiteouts_hide_lower_layers(tmp_path: Path, marker: str) -> None:
    lower = _layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    upper = _layer(tmp_path, "upper", {marker: ""})
    with pytest.raises(UserLookupError, match="not found"):
        resolve_user("www", [upper, lower])


def test_symlinked_passwd_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "host-passwd"
    outside.write_text("www:x:0:0::/:/bin/sh\n")
    upper = _layer(tmp_path, "upper", {})
    (Path(upper) / "etc").mkdir()
    os.symlink(outside, Path(upper) / "etc" / "passwd")
    lower = _layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    with pytest.raises(UserLookupError, match="not found"):
        resolve_user("www", [upper, lower])


def test_symlinked_etc_is_never_followed(tmp_path: Path) -> None:
    host_etc = tmp_path / "host-etc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text("www:x:0:0::/:/bin/sh\n")
    upper = _layer(tmp_path, "upper", {})
    os.symlink(host_etc, Path(upper) / "etc")
    with pytest.raises(UserLookupError, match="not found"):
        resolve_user("www", [upper])


def test_passwd_that_is_a_directory_counts_as_absent(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "l", {"etc/passwd/x": ""})
    assert resolve_user("7", [layer]) == ResolvedUser(7, 0)
