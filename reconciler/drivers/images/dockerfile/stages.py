"""Dockerfile -> stages: FROM lines, names, global ARGs (before the first FROM, usable in
FROM and by a stage that declares them again), the stages a target needs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reconciler.drivers.images.dockerfile.errors import DockerfileError
from reconciler.drivers.images.dockerfile.parser import Dockerfile, Instruction
from reconciler.drivers.images.dockerfile.substitute import SubstitutionError, word
from reconciler.model.records import record

# Usable with --build-arg without an ARG line, and never recorded (Docker's list).
PREDEFINED_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})  # fmt: skip
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


@record(frozen=True)
class Stage:
    """A FROM and the instructions up to the next one."""

    index: int
    name: str  # the AS name, lower case, or "" when unnamed
    base: str  # the FROM image after substitution: a reference, "scratch" or a stage
    line: int
    instructions: tuple[Instruction, ...]


@record(frozen=True)
class Plan:
    """The stages of a Dockerfile and the ARGs declared before its first FROM."""

    stages: tuple[Stage, ...]
    global_args: Mapping[str, str | None]  # ARG before FROM: name -> value (None: unset)


def plan(dockerfile: Dockerfile, build_args: Mapping[str, str], file: str) -> Plan:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None
    for ins in dockerfile.instructions:
        if ins.keyword == "FROM":
            if head is not None:
                stages.append(_stage(len(stages), head, current, global_args, dockerfile, file))
            head, current = ins, []
        elif head is None:
            if ins.keyword != "ARG":
                raise DockerfileError(file, ins.line,
                                      f"{ins.keyword} before the first FROM (only ARG may be)")
            for name, default in parse_arg(ins, _known(global_args), dockerfile.escape, file):
                global_args[name] = build_args.get(name, default)
        else:
            current.append(ins)
    if head is None:
        raise DockerfileError(file, 0, "no FROM instruction")
    stages.append(_stage(len(stages), head, current, global_args, dockerfile, file))
    _check_names(stages, file)
    return Plan(tuple(stages), global_args)


def _known(args: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in args.items() if v is not None}


def parse_arg(ins: Instruction, env: Mapping[str, str], escape: str,
              file: str) -> list[tuple[str, str | None]]:  # fmt: skip
    """`ARG NAME`, `ARG NAME=default`, several per line; defaults are substituted."""
    result: list[tuple[str, str | None]] = []
    for item in ins.args.split():
        name, sep, default = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise DockerfileError(file, ins.line, f"ARG: {name!r} is not a valid name")
        try:
            result.append((name, word(default, env, escape) if sep else None))
        except SubstitutionError as error:
            raise DockerfileError(file, ins.line, f"ARG: {error}") from None
    if not result:
        raise DockerfileError(file, ins.line, "ARG needs a name")
    return result


def _stage(index: int, head: Instruction, body: list[Instruction],
           global_args: Mapping[str, str | None], dockerfile: Dockerfile,
           file: str) -> Stage:  # fmt: skip
    if head.flag("platform") is not None:
        raise DockerfileError(file, head.line,
                              "FROM --platform is not supported: reconcile builds for this host")
    try:
        parts = [word(p, _known(global_args), dockerfile.escape) for p in head.args.split()]
    except SubstitutionError as error:
        raise DockerfileError(file, head.line, f"FROM: {error}") from None
    if len(parts) == 3 and parts[1].lower() == "as":
        base, name = parts[0], parts[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(file, head.line, f"FROM: {parts[2]!r} is not a valid stage name")
    elif len(parts) == 1:
        base, name = parts[0], ""
    else:
        raise DockerfileError(file, head.line, "FROM needs `image` or `image AS name`")
    if not base:
        raise DockerfileError(file, head.line, "FROM names no image (an ARG left empty?)")
    return Stage(index, name, base, head.line, tuple(body))


def _check_names(stages: list[Stage], file: str) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.name and stage.name in seen:
            raise DockerfileError(file, stage.line, f"stage name {stage.name!r} used twice")
        seen.add(stage.name)


def find_stage(stages: tuple[Stage, ...], name: str, before: int) -> Stage | None:
    """The stage `name` refers to from stage `before`: an earlier stage's AS name or index."""
    for stage in stages[:before]:
        if stage.name == name.lower() or (name.isdigit() and int(name) == stage.index):
            return stage
    return None


def target_stage(plan_: Plan, target: str | None, file: str) -> Stage:
    if not target:
        return plan_.stages[-1]
    for stage in plan_.stages:
        if stage.name == target.lower():
            return stage
    names = ", ".join(s.name for s in plan_.stages if s.name) or "none"
    raise DockerfileError(file, 0, f"target stage {target!r} not found (stages: {names})")
