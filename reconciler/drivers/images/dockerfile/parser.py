"""Dockerfile text -> instructions, as Docker's parser reads it.

Parser directives (`# syntax=` accepted and ignored, `# escape=`) are only looked for
before the first comment, blank line or instruction. A line ending in the escape
character continues on the next one; comment lines and blank lines inside a
continuation are dropped. Flags (`--from=x`) are split off for the instructions that take
them; the exec form is recognised when the arguments are a JSON array of strings.
"""

from __future__ import annotations

import json
import re

from reconciler.drivers.images.dockerfile.errors import DockerfileError
from reconciler.model.records import record

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_WITH_FLAGS = ("FROM", "RUN", "COPY", "ADD", "HEALTHCHECK")
_FLAG = re.compile(r"--([a-z][a-z-]*)(?:=(\S*))?")
KEYWORDS = (
    "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD", "ENTRYPOINT",
    "EXPOSE", "LABEL", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD", "MAINTAINER",
)  # fmt: skip


@record(frozen=True)
class Instruction:
    """One instruction of the Dockerfile, continuation lines joined."""

    line: int  # 1-based line of the instruction's first line
    keyword: str  # upper case
    args: str  # the text after the keyword and its flags, continuations joined
    flags: tuple[tuple[str, str], ...] = ()  # ("from", "build"), in order
    exec_form: tuple[str, ...] | None = None  # the JSON array form, when it is one

    @property
    def text(self) -> str:
        """The instruction as one line, flags included (what the build prints)."""
        flags = " ".join(f"--{k}={v}" for k, v in self.flags)
        return " ".join(part for part in (self.keyword, flags, self.args) if part)

    def flag(self, name: str) -> str | None:
        values = [value for key, value in self.flags if key == name]
        return values[-1] if values else None


@record(frozen=True)
class Dockerfile:
    """The parsed file: its instructions and its escape character."""

    instructions: tuple[Instruction, ...]
    escape: str = "\\"


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    lines = text.splitlines()
    escape, start = _directives(lines, file)
    instructions: list[Instruction] = []
    index = start
    while index < len(lines):
        first = index
        text, index = _logical_line(lines, index, escape)
        if text:
            instructions.append(_instruction(text, first + 1, file))
    return Dockerfile(tuple(instructions), escape)


def _directives(lines: list[str], file: str) -> tuple[str, int]:
    escape = "\\"
    seen: set[str] = set()
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            return escape, number
        name, value = match.group(1).lower(), match.group(2)
        if name in seen:
            raise DockerfileError(file, number + 1, f"parser directive {name!r} set twice")
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    file, number + 1, f"escape must be '\\' or '`', not {value!r}")
            escape = value
    return escape, len(lines)


def _logical_line(lines: list[str], index: int, escape: str) -> tuple[str, int]:
    """The instruction starting at `index` with its continuations ("" for a comment or
    blank line), and the index after it."""
    text = lines[index].strip()
    index += 1
    if text.startswith("#"):
        return "", index
    while _continues(text, escape):
        text = text.rstrip()[:-1]
        while index < len(lines) and _skipped(lines[index]):
            index += 1
        if index == len(lines):
            break
        text += lines[index]
        index += 1
    return text.strip(), index


def _skipped(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _continues(line: str, escape: str) -> bool:
    return line.rstrip().endswith(escape)


def _instruction(text: str, line: int, file: str) -> Instruction:
    keyword, _, rest = text.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = more + " " + rest
    upper = keyword.upper()
    if upper not in KEYWORDS:
        raise DockerfileError(file, line, f"unknown instruction {keyword!r}")
    rest = rest.strip()
    flags: list[tuple[str, str]] = []
    if upper in _WITH_FLAGS:
        while rest.startswith("--"):
            token, _, remainder = rest.partition(" ")
            match = _FLAG.fullmatch(token)
            if match is None:
                raise DockerfileError(file, line, f"{upper}: malformed flag {token!r}")
            flags.append((match.group(1), match.group(2) or ""))
            rest = remainder.strip()
    return Instruction(line, upper, rest, tuple(flags), exec_form_of(rest))


def exec_form_of(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Docker falls back to the shell form
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None
