"""A service's env_file as Compose v2 reads it: the environment the real Compose binary
prints (`config --format json`, no engine) is the normalized container's env, for files
with quotes, escapes, `export`, comments, `${}` from the project's variables, the service's
environment and earlier files, multi-line values, and `format: raw`. `reconcile convert`
output carries `format: compose` and plans the same container."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.model.desired import ContainerSpec
from reconciler.spec.compose.entry import ComposeRequest
from reconciler.spec.compose.project import ComposeOptions
from reconciler.spec.stacks import load_stacks
from tests.fakes import InMemoryDriver
from tests.unit.spec.compose.oracle import compose_config

COMPOSE = """\
name: envs
services:
  app:
    image: busybox:1
    environment: {SVC: fromservice, OVERRIDDEN: byservice}
    env_file:
      - first.env
      - path: app.env
        required: true
      - path: raw.env
        format: raw
      - path: gone.env
        required: false
"""
FILES = {
    ".env": "DOTV=fromdotenv\nTAG=1.2\n",
    "first.env": "ONLY1=one\nPROCV=first\n",
    "app.env": textwrap.dedent("""\
        # a comment, ${NOT_READ}
        export EXPORTED=yes
        SINGLE='single $HOME ${TAG} \\\\n'
        DOUBLE="tab\\tthere ${EXPORTED} \\"q\\" \\$LITERAL"
        UNQUOTED=unq ${TAG}_x # trailing comment
        HASH=a#b
        FROM_DOTENV=${DOTV}
        FROM_PROCESS=${PROCV}
        FROM_SERVICE=${SVC}
        FROM_EARLIER_FILE=${ONLY1}
        DEFAULTED=${UNSET:-dflt}
        ALT=${TAG:+set}
        MULTI="line1
        line2"
        MULTI_SINGLE='a
          b'
        COLON: yaml style
        OVERRIDDEN=byfile
        INHERITED
        ONLY1=again
        LATER=${ONLY1}
        """),
    "raw.env": "R1=\"quoted ${TAG}\"\nR2=x # y\n  LEAD=z\n",
}
PROCESS = {"PROCV": "fromprocess", "INHERITED": "inherited"}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _ours(folder: Path, environ: dict[str, str]) -> ContainerSpec:
    request = ComposeRequest(files=(folder / "compose.yaml",),
                             options=ComposeOptions(environ=environ))
    (stack,) = load_stacks([], compose=request).stacks
    (container,) = stack.containers
    return container


def test_the_environment_is_what_compose_gives(project: Path, tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **PROCESS}
    theirs = compose_config(project, ("compose.yaml",), environ)["services"]["app"]
    expected = {k: v.replace("$$", "$") for k, v in theirs["environment"].items()}
    assert expected["DOUBLE"] == 'tab\tthere yes "q" $LITERAL'  # the oracle read the file
    assert expected["MULTI"] == "line1\nline2" and expected["FROM_PROCESS"] == "fromprocess"
    assert dict(_ours(project, environ).env) == expected


def test_convert_output_carries_the_format_and_plans_the_same(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PROCESS.items():
        monkeypatch.setenv(name, value)
    driver = InMemoryDriver()
    state = ["--state-dir", str(project / "state")]
    assert main([*state, "convert", str(project / "compose.yaml")], driver=driver) == 0
    text = capsys.readouterr().out
    assert "format: compose" in text and "format: docker" in text
    assert "fromdotenv" in text and "NOT_READ" not in text  # the variables the file reads
    assert "byfile" not in text  # never a value of the file
    (project / "stack.yaml").write_text(text)
    for name in PROCESS:  # the converted stack depends on nobody's environment
        monkeypatch.delenv(name)
    assert main([*state, "apply", str(project / "stack.yaml")], driver=driver) == 0
    for name, value in PROCESS.items():
        monkeypatch.setenv(name, value)
    code = main([*state, "plan", "--detailed-exitcode", str(project / "compose.yaml")],
                driver=driver)
    assert code == 0, capsys.readouterr().out
