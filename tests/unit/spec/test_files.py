"""Paths a stack names, made absolute: from the stack file's folder, `~` expanded,
`..` and `.` folded, symlinks kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.spec.files import resolve_path

HOME = Path("/home/someone")


@pytest.mark.parametrize(("base", "text", "expected"), [
    ("/srv/stack", "conf/app.ini", "/srv/stack/conf/app.ini"),
    ("/srv/stack", "./conf//app.ini", "/srv/stack/conf/app.ini"),
    ("/srv/stack", "../shared/", "/srv/shared"),
    ("/srv/stack", "", "/srv/stack"),
    ("/srv/stack", "/etc/app", "/etc/app"),
    ("/srv/stack", "/etc/./app/../app.d", "/etc/app.d"),
    ("/srv/stack", "~", str(HOME)),
    ("/srv/stack", "~/data", f"{HOME}/data"),
    ("/", "x", "/x"),
    ("rel/base", "x/..", "{cwd}/rel/base"),
])
def test_a_named_path_is_made_absolute(base: str, text: str, expected: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(HOME))
    assert resolve_path(Path(base), text) == Path(expected.format(cwd=os.getcwd()))


def test_symlinks_are_kept(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_path(tmp_path, "link/x") == tmp_path / "link" / "x"
