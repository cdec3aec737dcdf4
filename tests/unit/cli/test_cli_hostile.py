"""Hostile input through the CLI: validate, plan and apply exit 3 with the located problem
and never reach the driver; risky settings only warn (validate on stderr, plans in every
format) and leave the exit code alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.spec import hostfacts
from tests.fakes import InMemoryDriver
from tests.unit.spec.hostile_stacks import REFUSED, SECRET, WARNED, Hostile


@pytest.fixture(autouse=True)
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostfacts, "online_cpus", lambda: frozenset({0, 1}))


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], driver: InMemoryDriver,
         tmp_path: Path) -> tuple[int, str, str]:
    code = main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_hostile_input_exits_3_and_never_reaches_the_driver(
    case: Hostile, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case.write(tmp_path)
    driver = InMemoryDriver()
    code, out, err = _run(capsys, [command, str(path)], driver, tmp_path)
    assert code == 3 and driver.calls == []
    line = f"{tmp_path / case.where}: {case.message}".replace("\n", "\\n")
    assert line in err.splitlines(), err
    assert "nothing was changed" in err and SECRET not in out + err
    assert not (tmp_path / "state" / "lock").exists()


@pytest.mark.parametrize("case", WARNED[:3] + WARNED[-2:], ids=lambda c: c.id)
def test_risky_settings_warn_and_keep_the_exit_code(
    case: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case.write(tmp_path)
    driver = InMemoryDriver()
    located = f"{tmp_path / case.where}"
    code, out, err = _run(capsys, ["validate", str(path)], driver, tmp_path)
    assert (code, driver.calls) == (0, []) and "valid: stack" in out
    assert err.splitlines() == [f"{located}: warning: {case.message}"]
    code, out, _ = _run(capsys, ["plan", "--detailed-exitcode", str(path)], driver, tmp_path)
    assert code == 2 and f"⚠ {located}: warning: {case.message}" in out.splitlines()
    code, out, _ = _run(capsys, ["plan", "-o", "json", str(path)], driver, tmp_path)
    file, line, column = located.rsplit(":", 2)
    assert json.loads(out)["warnings"] == [
        {"file": file, "line": int(line), "column": int(column), "message": case.message}]
    code, out, _ = _run(capsys, ["plan", "-o", "markdown", str(path)], driver, tmp_path)
    assert f"- ⚠ `{located}`: {case.message}" in out.splitlines()
    code, out, _ = _run(capsys, ["apply", str(path)], driver, tmp_path)
    assert code == 0 and "stack-web" in driver.containers
    assert f"⚠ {located}: warning: {case.message}" in out.splitlines()
