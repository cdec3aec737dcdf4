"""Saved plans: `plan --out FILE` then `apply --plan FILE` runs exactly those actions, or
refuses (exit 1, nothing changed) naming what moved on the host or that the stack files
changed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.cli.main import main
from reconciler.model.records import replace
from tests.fakes import InMemoryDriver

ROOT = Path(__file__).resolve().parents[3]
STACK = """\
version: 1
name: shop
images:
  app: {ref: "registry.local:5000/acme/app:1"}
containers:
  db: {image: app, command: ["db"]}
  web: {image: app, env: {TZ: UTC, API_TOKEN: s3cr3t-value}, depends_on: [db]}
"""


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, driver: InMemoryDriver,
         *argv: str) -> tuple[int, str, str]:
    code = main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "stacks" / "shop.yaml"
    path.parent.mkdir()
    path.write_text(STACK)
    return path


def _saved(capsys: pytest.CaptureFixture[str], tmp_path: Path, driver: InMemoryDriver,
           stack: Path) -> Path:
    out = tmp_path / "plan.json"
    code, _, _ = _run(capsys, tmp_path, driver, "plan", str(stack.parent), "--out", str(out))
    assert code == 0
    return out


def test_saved_plan_matches_the_schema_and_holds_no_secret(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _saved(capsys, tmp_path, InMemoryDriver(), stack)
    doc = json.loads(path.read_text())
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["saved"]["stacks"] == ["shop"]
    assert doc["saved"]["paths"] == [str(stack.parent)]
    assert "s3cr3t-value" not in path.read_text()


def test_apply_runs_exactly_the_saved_actions_then_nothing_is_left(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    path = _saved(capsys, tmp_path, driver, stack)
    assert driver.containers == {}  # plan --out changes nothing
    code, out, _ = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 0, out
    assert sorted(driver.containers) == ["shop-db", "shop-web"]
    assert "Apply complete." in out
    # the same file again: the host moved (by this very apply), so it is refused
    code, _, err = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 1
    assert "the host changed since this plan was made: shop-db is new" in err


def test_a_replaced_container_is_named_with_its_time(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    assert _run(capsys, tmp_path, driver, "apply", str(stack))[0] == 0
    stack.write_text(STACK.replace("TZ: UTC", "TZ: CET"))
    path = _saved(capsys, tmp_path, driver, stack)
    web = driver.containers["shop-web"]  # someone re-created it meanwhile
    driver.containers["shop-web"] = replace(web, created_at=1_700_000_000.0)
    calls = len(driver.calls)
    code, _, err = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 1
    assert ("the host changed since this plan was made: shop-web was replaced at "
            "2023-11-14 22:13:20 UTC") in err
    assert all(c[0] == "observe" for c in driver.calls[calls:])  # nothing changed


def test_a_gone_container_is_named(stack: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    assert _run(capsys, tmp_path, driver, "apply", str(stack))[0] == 0
    path = _saved(capsys, tmp_path, driver, stack)
    del driver.containers["shop-db"]
    code, _, err = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 1
    assert "shop-db is gone" in err


def test_changed_stack_files_are_refused(stack: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    path = _saved(capsys, tmp_path, driver, stack)
    stack.write_text(STACK.replace("TZ: UTC", "TZ: CET"))
    code, _, err = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 1
    assert "the stack files no longer produce this plan" in err
    assert driver.containers == {}


def test_stack_files_named_on_the_command_line_are_used(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    path = _saved(capsys, tmp_path, driver, stack)
    moved = tmp_path / "checkout" / "shop.yaml"  # another checkout of the same commit
    moved.parent.mkdir()
    moved.write_text(STACK)
    code, _, _ = _run(capsys, tmp_path, driver, "apply", "--plan", str(path), str(moved))
    assert code == 0
    assert sorted(driver.containers) == ["shop-db", "shop-web"]


def test_a_file_that_is_no_saved_plan_is_refused(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.json"
    code, out, _ = _run(capsys, tmp_path, InMemoryDriver(), "plan", str(stack), "-o", "json")
    plain.write_text(out)
    code, _, err = _run(capsys, tmp_path, InMemoryDriver(), "apply", "--plan", str(plain))
    assert code == 1
    assert "no `saved` section" in err


def test_a_pull_always_tag_that_moves_is_not_replaced_by_apply_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "shop.yaml"
    stack.write_text(STACK.replace('app:1"}', 'app:1", pull: always}'))
    driver = InMemoryDriver()
    assert _run(capsys, tmp_path, driver, "apply", str(stack))[0] == 0
    path = _saved(capsys, tmp_path, driver, stack)

    # the registry's tag moves: the pull brings another digest
    identity = next(iter(driver.images))
    original = driver.ensure_image

    def moved_pull(image, progress=None):  # type: ignore[no-untyped-def]
        original(image, progress)
        driver.images[identity] = "sha256:" + "9" * 64
        return driver.images[identity]

    driver.ensure_image = moved_pull  # type: ignore[method-assign]
    code, _, err = _run(capsys, tmp_path, driver, "apply", "--plan", str(path))
    assert code == 0
    assert "not in the saved plan, so not applied: replace:shop-db, replace:shop-web" in err
    assert not any(c[0] in ("create", "remove") for c in driver.calls[-6:])


def test_dry_run_checks_the_saved_plan_and_changes_nothing(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    path = _saved(capsys, tmp_path, driver, stack)
    code, out, _ = _run(capsys, tmp_path, driver, "apply", "--plan", str(path), "--dry-run")
    assert code == 0 and "+ create shop-web" in out and "still holds" in out
    assert driver.containers == {}
