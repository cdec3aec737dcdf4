"""The Dockerfile parser: directives, continuations, comments, flags, exec form, stages."""

from __future__ import annotations

import pytest

from reconciler.drivers.images.dockerfile import stages
from reconciler.drivers.images.dockerfile.errors import DockerfileError
from reconciler.drivers.images.dockerfile.parser import parse


def test_continuations_comments_and_lines() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "\n"
        "FROM busybox AS base\n"
        "RUN echo a \\\n"
        "  # a comment inside is dropped\n"
        "\n"
        "  b\n"
        "# comment\n"
        "copy --from=base --chown=1:2 a b /c/\n"
    )
    dockerfile = parse(text)
    lines = [(i.line, i.keyword, i.args) for i in dockerfile.instructions]
    assert lines == [
        (3, "FROM", "busybox AS base"),
        (4, "RUN", "echo a   b"),
        (9, "COPY", "a b /c/"),
    ]
    copy = dockerfile.instructions[2]
    assert copy.flags == (("from", "base"), ("chown", "1:2"))
    assert copy.flag("from") == "base" and copy.flag("chmod") is None


def test_escape_directive_backtick() -> None:
    dockerfile = parse("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  /w\n")
    assert dockerfile.escape == "`"
    assert dockerfile.instructions[1].args == "dir c:\\   /w"


def test_directive_after_a_comment_is_a_comment() -> None:
    dockerfile = parse("# hello\n# escape=`\nFROM scratch\n")
    assert dockerfile.escape == "\\"


def test_bad_escape_directive_is_located() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:1: escape must be"):
        parse("# escape=x\nFROM scratch\n")


def test_exec_and_shell_forms() -> None:
    dockerfile = parse('FROM scratch\nCMD ["a", "b c"]\nCMD [not json\nCMD [1, 2]\n')
    forms = [i.exec_form for i in dockerfile.instructions[1:]]
    assert forms == [("a", "b c"), None, None]


def test_unknown_instruction_names_line() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: unknown instruction 'FRUM'"):
        parse("FROM scratch\nFRUM x\n")


def test_stages_global_args_and_names() -> None:
    dockerfile = parse(
        "ARG TAG=1.0\nARG REG\nFROM busybox:${TAG} AS Build\nRUN x\n"
        "FROM build\nFROM ${REG:-docker.io}/alpine\n"
    )
    plan = stages.plan(dockerfile, {"TAG": "2.0"}, "Dockerfile")
    assert [(s.name, s.base) for s in plan.stages] == [
        ("build", "busybox:2.0"), ("", "build"), ("", "docker.io/alpine")
    ]
    assert plan.global_args == {"TAG": "2.0", "REG": None}
    assert stages.find_stage(plan.stages, "build", 1) is plan.stages[0]
    assert stages.find_stage(plan.stages, "0", 1) is plan.stages[0]
    assert stages.find_stage(plan.stages, "build", 0) is None
    assert stages.target_stage(plan, "BUILD", "Dockerfile") is plan.stages[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN x\nFROM scratch\n", r"Dockerfile:1: RUN before the first FROM"),
        ("FROM --platform=linux/arm64 busybox\n", r"Dockerfile:1: FROM --platform is not"),
        ("FROM a AS x\nFROM b AS x\n", r"Dockerfile:2: stage name 'x' used twice"),
        ("FROM a b\n", r"Dockerfile:1: FROM needs"),
        ("ARG 1X=2\nFROM a\n", r"Dockerfile:1: ARG: '1X' is not a valid name"),
        ("# nothing\n", r"Dockerfile: no FROM"),
    ],
)
def test_stage_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        stages.plan(parse(text), {}, "Dockerfile")


def test_unknown_target_lists_stages() -> None:
    plan = stages.plan(parse("FROM a AS one\nFROM b AS two\n"), {}, "Dockerfile")
    with pytest.raises(DockerfileError, match=r"'three' not found \(stages: one, two\)"):
        stages.target_stage(plan, "three", "Dockerfile")
