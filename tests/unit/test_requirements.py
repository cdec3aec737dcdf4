"""A missing host dependency fails under CI=true and skips only elsewhere."""

from __future__ import annotations

import pytest

from tests import requirements


def test_missing_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="needs runc"):
        requirements.missing("needs runc")


def test_missing_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="needs runc"):  # IN_CI is False here
        requirements.missing("needs runc")


def test_need_passes_when_the_condition_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "IN_CI", True)
    requirements.need("/bin/sh", "needs a shell")
    with pytest.raises(pytest.fail.Exception):
        requirements.need("", "needs a shell")
