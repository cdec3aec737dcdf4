"""`.dockerignore`, with Docker's pattern rules (moby/patternmatcher): one pattern a line,
`#` comments, `!` re-includes, paths cleaned and relative to the context root, `*` and `?`
within one path component, `**` across any number of them, `[...]` classes, `\\` quoting.
A pattern matching a directory excludes everything under it; the last matching pattern
decides."""

from __future__ import annotations

import posixpath
import re
from functools import cached_property

from reconciler.model.records import record


@record(frozen=True)
class Pattern:
    """One .dockerignore line."""

    text: str  # cleaned, without the leading `!`
    negated: bool

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(_to_regex(self.text))


@record(frozen=True)
class IgnoreRules:
    """A .dockerignore: its patterns in order, the last match deciding."""

    patterns: tuple[Pattern, ...] = ()

    @property
    def has_exceptions(self) -> bool:
        return any(p.negated for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """`path` (relative, `/`-separated) is left out of the context."""
        parents = _parents(path)
        verdict = False
        for pattern in self.patterns:
            if any(pattern.regex.match(candidate) for candidate in parents):
                verdict = not pattern.negated
        return verdict


def parse_ignore(text: str) -> IgnoreRules:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = posixpath.normpath(line).lstrip("/")
        if cleaned in ("", "."):
            cleaned = "."
        patterns.append(Pattern(cleaned, negated))
    return IgnoreRules(tuple(patterns))


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


def _to_regex(pattern: str) -> str:
    out = ["^"]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if pattern[index + 1 : index + 2] == "*":
                index += 2
                if pattern[index : index + 1] == "/":
                    index += 1
                    out.append("(.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end].replace("\\", "\\\\")
                if body.startswith("^"):
                    body = "!" + body[1:]  # both mean negation in Go's filepath.Match
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    out.append("$")
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A COPY source pattern (Go filepath.Match: no `**` semantics beyond `*`)."""
    return re.compile(_to_regex(pattern))
