"""The CLI contract with the in-memory driver: exit codes, outputs, and that invalid input
never reaches the driver."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler import __version__
from reconciler.cli.main import main
from reconciler.model.desired import ImageSource, VolumeSpec
from reconciler.model.observed import Observed
from tests.fakes import InMemoryDriver
from tests.unit.broken_stacks import CASES, BrokenStack

ROOT = Path(__file__).resolve().parents[3]

STACK = """\
version: 1
name: shop
images:
  app: {ref: "registry.local:5000/acme/app:1"}
volumes:
  data: {}
containers:
  db:
    image: app
    command: ["db"]
    volumes: ["data:/data"]
  web:
    image: app
    env: {TZ: UTC, API_TOKEN: s3cr3t-value}
    depends_on: [db]
"""


class RecordingDriver(InMemoryDriver):
    """The in-memory driver; it records observe() too, so 'no call at all' can be asserted."""


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], driver: InMemoryDriver,
         tmp_path: Path) -> tuple[int, str, str]:
    code = main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(STACK)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_invalid_input_exits_3_and_never_reaches_the_driver(
    case: BrokenStack, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case.write(tmp_path)
    driver = RecordingDriver()
    code, _out, err = _run(capsys, [command, str(path)], driver, tmp_path)
    assert code == 3
    assert driver.calls == []
    where = f"{path}:{case.location}: " if case.location else f"{path}: "
    assert any(line.startswith(where) and case.message in line for line in err.splitlines()), err
    assert "nothing was changed" in err
    assert not (tmp_path / "state" / "lock").exists()


def test_validate_valid_stack(stack: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["validate", str(stack)], RecordingDriver(), tmp_path)
    assert code == 0
    assert "valid: shop (2 container(s))" in out


def test_plan_detailed_exitcode_and_text(stack: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    driver = RecordingDriver()
    code, out, _ = _run(capsys, ["plan", "--detailed-exitcode", str(stack)], driver, tmp_path)
    assert code == 2
    assert "+ create shop-db" in out and "+ create shop-web" in out
    assert out.index("shop-db") < out.index("shop-web")
    assert [c[0] for c in driver.calls] == ["observe"]  # plan only reads
    code, _, _ = _run(capsys, ["plan", str(stack)], driver, tmp_path)
    assert code == 0


def test_dry_run_changes_nothing_then_apply_converges_then_noop(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = RecordingDriver()
    code, out, _ = _run(capsys, ["apply", "--dry-run", str(stack)], driver, tmp_path)
    assert code == 0 and "+ create shop-web" in out
    assert {c[0] for c in driver.calls} == {"observe"}
    driver.calls.clear()
    code, out, _ = _run(capsys, ["apply", str(stack)], driver, tmp_path)
    assert code == 0
    mutating = [c for c in driver.calls if c[0] != "observe"]
    assert ("ensure_image", "app") in mutating
    assert ("create_volume", "shop-data") in mutating
    assert mutating.index(("start", "shop-db")) < mutating.index(("create", "shop-web"))
    assert set(driver.containers) == {"shop-db", "shop-web"}
    driver.calls.clear()
    code, out, _ = _run(capsys, ["apply", str(stack)], driver, tmp_path)
    assert code == 0
    assert "Nothing to do" in out
    assert {c[0] for c in driver.calls} == {"observe"}


def test_secret_env_values_are_never_printed(stack: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    driver = RecordingDriver()
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    stack.write_text(STACK.replace("s3cr3t-value", "n3w-s3cr3t"))
    for output in ("text", "json", "markdown"):
        code, out, err = _run(capsys, ["plan", "-o", output, str(stack)], driver, tmp_path)
        assert code == 0
        assert "API_TOKEN" in out
        assert "s3cr3t" not in out + err


def test_plan_json_matches_its_schema(stack: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["plan", "-o", "json", str(stack)], RecordingDriver(), tmp_path)
    assert code == 0
    schema = json.loads((ROOT / "schemas/plan.schema.json").read_text())
    doc = json.loads(out)
    jsonschema.validate(doc, schema)
    assert [a["kind"] for a in doc["actions"]].count("create") == 2


def test_failed_action_exits_1_skips_dependants_and_next_apply_converges(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = RecordingDriver(fail_on={("create", "shop-db")})
    code, _, err = _run(capsys, ["apply", str(stack)], driver, tmp_path)
    assert code == 1
    assert "create:shop-db failed" in err
    assert "shop-web" not in driver.containers  # its dependency failed: skipped
    driver.fail_on.clear()
    code, _, _ = _run(capsys, ["apply", str(stack)], driver, tmp_path)
    assert code == 0
    assert set(driver.containers) == {"shop-db", "shop-web"}


def test_down_removes_dependants_first_and_keeps_volumes_unless_asked(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = RecordingDriver()
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    driver.calls.clear()
    code, out, _ = _run(capsys, ["down", "shop"], driver, tmp_path)
    assert code == 0 and "Removed 2 container(s) of shop" in out
    removes = [c[1] for c in driver.calls if c[0] == "remove"]
    assert removes == ["shop-web", "shop-db"]
    assert driver.volumes == {"shop-data"}
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    code, out, _ = _run(capsys, ["down", "--volumes", str(stack)], driver, tmp_path)
    assert code == 0 and "removed volume shop-data" in out
    assert driver.volumes == set() and driver.containers == {}


def test_down_volumes_dry_run_shows_every_removal_and_changes_nothing(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = RecordingDriver()
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    driver.calls.clear()
    code, out, _ = _run(capsys, ["down", "--volumes", "--dry-run", "shop"], driver, tmp_path)
    assert code == 0
    assert out.splitlines() == [
        "- remove shop-web  (no longer in the spec)",
        "- remove shop-db  (no longer in the spec)",
        "- remove-volume shop-data  (down --volumes)",
        "Plan: 0 to create, 0 to replace, 2 to remove; 1 volume to remove.",
    ]
    assert [c[0] for c in driver.calls] == ["observe"]
    code, out, _ = _run(capsys, ["down", "--dry-run", "-o", "json", "shop"], driver, tmp_path)
    summary = json.loads(out)["summary"]
    assert (summary["remove"], summary["remove-volume"]) == (2, 0)  # volumes kept by default


def test_orphan_is_reported_and_removed_only_with_prune(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = RecordingDriver()
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    stack.write_text(STACK.split("  web:")[0])
    code, out, _ = _run(capsys, ["apply", str(stack)], driver, tmp_path)
    assert code == 0 and "shop-web" in out and "prune" in out
    assert "shop-web" in driver.containers
    code, out, _ = _run(capsys, ["apply", "--prune", str(stack)], driver, tmp_path)
    assert code == 0 and "- remove shop-web" in out
    assert "shop-web" not in driver.containers


def test_ps_json_lists_containers(stack: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    driver = RecordingDriver()
    _run(capsys, ["apply", str(stack)], driver, tmp_path)
    code, out, _ = _run(capsys, ["ps", "-o", "json"], driver, tmp_path)
    assert code == 0
    assert [row["name"] for row in json.loads(out)] == ["shop-db", "shop-web"]


def test_ps_names_images_as_the_stack_does_and_keeps_the_digest_in_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"  # one image by its images: key, one by a bare reference
    path.write_text(STACK.replace("    image: app\n    command",
                                  "    image: registry:5000/acme/db:1.4\n    command"))
    driver = RecordingDriver()
    _run(capsys, ["apply", str(path)], driver, tmp_path)
    code, out, _ = _run(capsys, ["ps", "-o", "json"], driver, tmp_path)
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0
    assert rows["shop-db"]["image"] == "registry:5000/acme/db:1.4"
    assert rows["shop-web"]["image"] == "app"
    assert rows["shop-web"]["image_digest"] == driver.containers["shop-web"].image_digest
    assert rows["shop-web"]["image_digest"].startswith("sha256:")
    code, out, _ = _run(capsys, ["ps"], driver, tmp_path)
    assert "registry:5000/acme/db:1.4" in out and " app " in out and "sha256:" not in out


def test_unknown_container_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, ["inspect", "shop/nope"], RecordingDriver(), tmp_path)
    assert code == 1 and "shop-nope" in err


def test_image_and_volume_types_are_the_model_ones() -> None:
    # Guard: the fake must receive the project's model types (contract check).
    assert ImageSource.__module__ == VolumeSpec.__module__ == "reconciler.model.desired"


class BuggyDriver(InMemoryDriver):
    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        raise KeyError("API_TOKEN=s3cr3t-value")  # a bug whose message carries a secret


@pytest.mark.parametrize("verbose", [False, True])
def test_an_unexpected_exception_is_one_line_and_exit_1(
    verbose: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-v", "ps"] if verbose else ["ps"]
    code, out, err = _run(capsys, argv, BuggyDriver(), tmp_path)
    assert code == 1 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("reconcile: unexpected KeyError at ") and "bug" in last
    assert f"reconcile {__version__}" in last
    if verbose:
        assert "Traceback (most recent call last)" in err
    else:
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "s3cr3t" not in err  # the message is not echoed: it may carry content


SECRET_STACK = STACK.replace(
    "API_TOKEN: s3cr3t-value}",
    "API_TOKEN: s3cr3t-value, MYSQL_PWD: pwd-s3cr3t, "
    "DATABASE_URL: 'postgres://app:url-s3cr3t@db/shop'}")


def test_inspect_masks_secrets_unless_asked(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SECRET_STACK)
    driver = RecordingDriver()
    assert _run(capsys, ["apply", str(path)], driver, tmp_path)[0] == 0
    code, out, err = _run(capsys, ["inspect", "shop/web"], driver, tmp_path)
    assert code == 0 and "s3cr3t" not in out + err
    env = json.loads(out)["recorded_spec"]["env"]
    assert env == {"API_TOKEN": "(sensitive)", "MYSQL_PWD": "(sensitive)", "TZ": "UTC",
                   "DATABASE_URL": "postgres://app:(sensitive)@db/shop"}
    code, out, _ = _run(capsys, ["inspect", "--show-secrets", "shop/web"], driver, tmp_path)
    assert code == 0
    assert json.loads(out)["recorded_spec"]["env"]["MYSQL_PWD"] == "pwd-s3cr3t"
    assert "postgres://app:url-s3cr3t@db/shop" in out


def test_plan_masks_pwd_names_and_url_passwords(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SECRET_STACK)
    driver = RecordingDriver()
    _run(capsys, ["apply", str(path)], driver, tmp_path)
    path.write_text(SECRET_STACK.replace("s3cr3t", "n3w"))
    for output in ("text", "json", "markdown"):
        code, out, err = _run(capsys, ["plan", "-o", output, str(path)], driver, tmp_path)
        assert code == 0 and "MYSQL_PWD" in out and "postgres://app:(sensitive)@db/shop" in out
        assert "s3cr3t" not in out + err and "n3w" not in out + err
