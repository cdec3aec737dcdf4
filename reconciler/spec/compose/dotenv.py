"""`.env` files as Compose reads them (compose-go's dotenv parser).

`KEY=value` or `KEY: value`, an optional `export ` prefix, `#` comments (whole lines, and
after ` #` on unquoted values), 'single' quotes (literal), "double" quotes (escapes such as
`\\n`, and `${}` expanded), quoted values over several lines, and `${VAR}` expansion in
unquoted values from the process environment first, then the file's earlier keys. A bare
`KEY` takes the process environment's value when it has one. Problems name the file and
line, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
        _Parser(text, environ, into).parse()
    except EnvFileError as exc:
        return [Problem(str(path), exc.line, 1, str(exc))]
    return []


class _Parser:
    def __init__(self, text: str, environ: Mapping[str, str], out: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.environ = environ
        self.out = out

    def lookup(self, name: str) -> str | None:
        found = self.environ.get(name)
        return found if found is not None else self.out.get(name)

    def parse(self) -> None:
        while self._skip_blank_and_comments():
            key, inherited = self._key()
            if inherited:
                if key in self.environ:
                    self.out[key] = self.environ[key]
                continue
            self.out[key] = self._value()

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
