"""`env_file` entries with `format: compose` (Compose v2's dotenv rules) next to Docker's
literal format: values, lookups, located errors without values, and the config hash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import SpecError
from reconciler.spec.stacks import load_stacks

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-never-shown"

RICH = """\
# a comment line
export EXPORTED=yes
SINGLE='literal ${TAG} \\n'
DOUBLE="tab\\there ${TAG} \\"quoted\\""
UNQUOTED=plain ${TAG}_x # a trailing comment
MULTI="line one
line two"
FROM_ENV=${OWN}
DEFAULTED=${NOPE:-fallback}
FROM_EARLIER=${EXPORTED}-${FIRST}
COLON: yaml style
"""


def _container(tmp_path: Path, env_file: str, extra: str = "") -> ContainerSpec:
    stack = tmp_path / "app.yaml"
    stack.write_text("version: 1\ncontainers:\n  web:\n    image: app:1\n"
                     f"    env_file: {env_file}\n{extra}")
    (loaded,) = load_stacks([stack]).stacks
    return loaded.containers[0]


def _problems(tmp_path: Path, env_file: str) -> list[str]:
    with pytest.raises(SpecError) as raised:
        _container(tmp_path, env_file)
    return [f"{Path(p.file).name}:{p.line}:{p.column} {p.message}"
            for p in raised.value.problems]


def test_compose_format_reads_quotes_export_comments_interpolation_and_multiline(
        tmp_path: Path) -> None:
    (tmp_path / "first.env").write_text("FIRST=1\n")
    (tmp_path / "rich.env").write_text(RICH)
    spec = _container(tmp_path, "[first.env, {path: rich.env, format: compose, variables: "
                                "{TAG: v2}}]", "    env: {OWN: mine}\n")
    assert dict(spec.env) == {
        "FIRST": "1", "EXPORTED": "yes", "SINGLE": "literal ${TAG} \\n",
        "DOUBLE": 'tab\there v2 "quoted"', "UNQUOTED": "plain v2_x",
        "MULTI": "line one\nline two", "FROM_ENV": "mine", "DEFAULTED": "fallback",
        "FROM_EARLIER": "yes-1", "COLON": "yaml style", "OWN": "mine"}


def test_docker_format_stays_literal(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("Q=\"x ${TAG}\" # no comment\n")
    for entry in ("a.env", "{path: a.env, format: docker}"):
        assert dict(_container(tmp_path, entry).env) == {"Q": '"x ${TAG}" # no comment'}


def test_lookups_prefer_variables_then_env_then_the_file(tmp_path: Path) -> None:
    """As Compose: the project's variables, the service's environment, earlier values."""
    (tmp_path / "a.env").write_text("V=file\nE=file\nF=file\nR1=${V}\nR2=${E}\nR3=${F}\n"
                                    "BARE_V\nBARE_E\nBARE_NONE\n")
    spec = _container(tmp_path, "{path: a.env, format: compose, variables: {V: var, "
                                "BARE_V: bv}}", "    env: {E: env, BARE_E: be}\n")
    assert dict(spec.env) == {"V": "file", "E": "env", "F": "file", "R1": "var", "R2": "env",
                              "R3": "file", "BARE_V": "bv", "BARE_E": "be"}


def test_errors_are_located_in_the_env_file_and_never_show_a_value(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text(f"OK={SECRET}\nQ=\"{SECRET}\n")
    (tmp_path / "req.env").write_text(f"A={SECRET}\nB=${{MISSING:?set it}}\n")
    (tmp_path / "nul.env").write_text('OK=1\nN="a\\0b"\n')
    found = [*_problems(tmp_path, "{path: bad.env, format: compose}"),
             *_problems(tmp_path, "{path: req.env, format: compose}"),
             *_problems(tmp_path, "{path: nul.env, format: compose}")]
    assert found == ['bad.env:2:1 line 2: unterminated "quoted" value',
                     "req.env:2:1 line 2: required variable MISSING is missing a value: set it",
                     "nul.env:2:1 line 2: the value contains a NUL character"]
    assert not any(SECRET in line for line in found)


def test_variables_need_the_compose_format(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    (problem,) = _problems(tmp_path, "{path: a.env, variables: {A: b}}")
    assert problem.endswith("`variables` are read only by `format: compose` (Docker's format "
                            "has no `${}`)")
    assert "app.yaml:5:" in problem


def test_the_hash_follows_the_resolved_values_of_an_encrypted_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes with another variable are another container; the clear values are
    kept apart (secret env) and never in the hashed fields."""
    identity = pyrage.x25519.Identity.generate()
    monkeypatch.setenv("RECONCILE_AGE_KEY", str(identity))
    (tmp_path / "db.env.age").write_bytes(pyrage.encrypt(
        f"PASSWORD={SECRET}\nURL=db://${{HOST}}\n".encode(), [identity.to_public()]))
    specs = [_container(tmp_path, f"{{path: db.env.age, format: compose, variables: "
                                  f"{{HOST: {host}}}}}") for host in ("a", "a", "b")]
    assert dict(specs[0].secret_env) == {"PASSWORD": SECRET, "URL": "db://a"}
    assert specs[0].env == ()
    assert specs[0].config_hash == specs[1].config_hash != specs[2].config_hash
    assert SECRET not in repr(specs[0].config_hash) + specs[0].env_file_hash


def test_clear_files_hash_their_values_and_plain_lines_hash_alike_in_both_formats(
        tmp_path: Path) -> None:
    """A changed variable changes `env` (hashed); a plain file switched to
    `format: compose` (a Compose project after this upgrade) replaces nothing."""
    (tmp_path / "a.env").write_text("A=1\nB=${V}\n")
    one, two = (_container(tmp_path, f"{{path: a.env, format: compose, variables: {{V: {v}}}}}")
                for v in ("x", "y"))
    assert dict(one.env)["B"] == "x" and one.config_hash != two.config_hash
    (tmp_path / "a.env").write_text("A=1\nB=2\n")
    assert (_container(tmp_path, "a.env").config_hash
            == _container(tmp_path, "{path: a.env, format: compose}").config_hash)


def test_a_docker_format_stack_never_imports_the_compose_modules(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    stack = tmp_path / "shop.yaml"
    stack.write_text("version: 1\ncontainers:\n  web: {image: 'busybox:1', env_file: a.env}\n")
    probe = ("import sys; from reconciler.spec.stacks import load_stacks; "
             f"load_stacks([{str(stack)!r}]); "
             "print(sorted(m for m in sys.modules if m.startswith('reconciler.spec.compose')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"
