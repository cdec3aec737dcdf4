"""`.env` files as Compose reads them (compose-go's dotenv parser).

`KEY=value` or `KEY: value`, an optional `export ` prefix, `#` comments (whole lines, and
after ` #` on unquoted values), 'single' quotes (literal), "double" quotes (escapes such as
`\\n`, and `${}` expanded), quoted values over several lines, and `${VAR}` expansion in
unquoted values from the process environment first, then the file's earlier keys. A bare
`KEY` takes the process environment's value when it has one. Problems name the file and
line, never a value.

`service_env_file` is the same parser for a service's `env_file`, read by the stack
pipeline (spec/env_files.py) and the mapping (env_file.py): its lookups go to the project's
variables and the service's environment before the values read so far.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from reconciler.model.errors import Problem
from reconciler.spec.compose.interpolate import Substitution, TemplateError

_KEY_CHARS = re.compile(r"[\w.\-\[\]]")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "\\": "\\", "$": "$$"}
_ESCAPE = re.compile(r"\\([abfnrtv$\"\\]|0[0-7]{0,3})")
_SPACE = "\t\v\f\r \x85\xa0"


class EnvFileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def read_env_file(path: Path, environ: Mapping[str, str],
                  into: dict[str, str]) -> list[Problem]:
    """Parse `path` into `into` (later keys and files win); lookups see `environ` first."""
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        return [Problem(str(path), 0, 0, f"cannot read env file: {why}")]
    try:
        parse_dotenv(text, environ.get, into)
    except EnvFileError as exc:
        return [Problem(str(path), exc.line, 1, str(exc))]
    return []


Lookup = Callable[[str], "str | None"]


def parse_dotenv(text: str, outer: Lookup, into: dict[str, str]
                 ) -> list[tuple[int, str, str]]:
    """The (line, key, value) of each variable of `text` in order, also written into
    `into`. `${VAR}` and a bare `KEY` look `outer` up first, then `into`; raises
    EnvFileError (line, no value)."""
    parser = _Parser(text, outer, into)
    parser.parse()
    return parser.pairs


def service_env_file(text: str, variables: Mapping[str, str], env: Mapping[str, str],
                     earlier: Mapping[str, str]) -> list[tuple[int, str, str]]:
    """A service's env file as Compose reads it: lookups go to the project's `variables`,
    then the service's `env`, then the values of the earlier files and lines."""
    def outer(name: str) -> str | None:
        found = variables.get(name)
        return found if found is not None else env.get(name)

    return parse_dotenv(text.removeprefix("\ufeff"), outer, dict(earlier))


class _Parser:
    def __init__(self, text: str, outer: Lookup, out: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.outer = outer
        self.out = out
        self.pairs: list[tuple[int, str, str]] = []

    def lookup(self, name: str) -> str | None:
        found = self.outer(name)
        return found if found is not None else self.out.get(name)

    def parse(self) -> None:
        while self._skip_blank_and_comments():
            line = self.line
            key, inherited = self._key()
            value = self.outer(key) if inherited else self._value()
            if value is not None:
                self.out[key] = value
                self.pairs.append((line, key, value))

    def _skip_blank_and_comments(self) -> bool:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif char.isspace():
                self.line += char == "\n"
                self.pos += 1
            else:
                return True
        return False

    def _key(self) -> tuple[str, bool]:
        export = re.match(r"export\s+", self.text[self.pos:])
        if export:
            self.pos += export.end()
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "=:\n":
                key = self.text[start:self.pos].rstrip()
                self.pos += 1
                if char == "\n":
                    self.line += 1
                else:
                    while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                        self.pos += 1
                if " " in key:
                    raise EnvFileError(self.line, "a variable name cannot contain a space")
                return key, char == "\n"
            if not (char in _SPACE or _KEY_CHARS.match(char)):
                raise EnvFileError(self.line, f"unexpected character {char!r} in a variable "
                                   "name (expected letters, digits, `_`, `.`, `-`)")
            self.pos += 1
        key = self.text[start:].rstrip()
        self.pos = len(self.text)
        return key, True

    def _value(self) -> str:
        quote = self.text[self.pos:self.pos + 1]
        if quote not in ("'", '"'):
            end = self.text.find("\n", self.pos)
            end = len(self.text) if end < 0 else end
            raw = self.text[self.pos:end].split(" #", 1)[0].rstrip()
            self.pos, self.line = end + 1, self.line + 1
            return self._expand(raw)
        return self._quoted(quote)

    def _quoted(self, quote: str) -> str:
        start_line = self.line
        chars: list[str] = []
        i = self.pos + 1
        escaped = False
        while i < len(self.text):
            char = self.text[i]
            self.line += char == "\n"
            if char == quote and not escaped:
                self.pos = i + 1
                value = "".join(chars)
                return self._expand(_unescape(value)) if quote == '"' else value
            if escaped:
                chars.append("\\" if char != quote else "")
                escaped = False
            elif char == "\\":
                escaped = True
                i += 1
                continue
            chars.append(char)
            i += 1
        raise EnvFileError(start_line, f"unterminated {quote}quoted{quote} value")

    def _expand(self, value: str) -> str:
        try:
            return Substitution(self.lookup).run(value)
        except TemplateError as exc:
            raise EnvFileError(self.line - 1, str(exc)) from None


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("0"):
            return chr(int(code[1:] or "0", 8))
        return _ESCAPES[code]

    return _ESCAPE.sub(one, value)
