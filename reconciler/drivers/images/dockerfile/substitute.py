"""Variable substitution and word splitting as Docker's shell lexer does it for the
instructions it substitutes (FROM, COPY, ADD, ENV, ARG, LABEL, EXPOSE, USER, VOLUME,
WORKDIR, STOPSIGNAL): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
`${VAR+word}`, `${VAR:?message}`; single quotes are literal, double quotes expand, the
escape character quotes the next character; quotes are removed from the result."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model.records import record

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"


class SubstitutionError(ValueError):
    """A malformed `${...}` or a `${VAR:?message}` of an unset variable."""


@record
class _Lexer:
    """A cursor over one word's text, with the variables and escape it is expanded with."""

    text: str
    env: Mapping[str, str]
    escape: str
    pos: int = 0

    def peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.text[at] if at < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char


def words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """`text` split on unquoted whitespace, each word expanded and unquoted."""
    return _process(text, env, escape, split=True)


def word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """`text` expanded and unquoted as one word (whitespace kept)."""
    return "".join(_process(text, env, escape, split=False))


def _process(text: str, env: Mapping[str, str], escape: str, split: bool) -> list[str]:
    lexer = _Lexer(text, env, escape)
    result: list[str] = []
    current: list[str] = []
    started = False
    while lexer.peek():
        char = lexer.peek()
        if split and char in " \t\r\n":
            lexer.take()
            if started:
                result.append("".join(current))
                current, started = [], False
            continue
        started = True
        if char == "'":
            lexer.take()
            current.append(_until_quote(lexer, "'"))
        elif char == '"':
            lexer.take()
            current.append(_double_quoted(lexer))
        elif char == escape:
            lexer.take()
            current.append(lexer.take())
        elif char == "$":
            value = _dollar(lexer)
            if not split:
                current.append(value)
                continue
            # Unquoted, an expanded value splits into words as Docker's lexer does it.
            pieces = value.split()
            if value[:1].isspace() and started and current:
                result.append("".join(current))
                current = []
            for piece in pieces[:-1]:
                current.append(piece)
                result.append("".join(current))
                current = []
            if pieces:
                current.append(pieces[-1])
            if value[-1:].isspace() and pieces:
                result.append("".join(current))
                current, started = [], False
            elif not pieces and not current:
                started = False
        else:
            current.append(lexer.take())
    if started:
        result.append("".join(current))
    return result


def _until_quote(lexer: _Lexer, quote: str) -> str:
    start = lexer.pos
    while lexer.peek() and lexer.peek() != quote:
        lexer.take()
    if not lexer.peek():
        raise SubstitutionError(f"unterminated {quote} quote")
    value = lexer.text[start:lexer.pos]
    lexer.take()
    return value


def _double_quoted(lexer: _Lexer) -> str:
    out: list[str] = []
    while True:
        char = lexer.peek()
        if not char:
            raise SubstitutionError('unterminated " quote')
        if char == '"':
            lexer.take()
            return "".join(out)
        if char == lexer.escape and lexer.peek(1) in ('"', "$", lexer.escape):
            lexer.take()
            out.append(lexer.take())
        elif char == "$":
            out.append(_dollar(lexer))
        else:
            out.append(lexer.take())


def _dollar(lexer: _Lexer) -> str:
    lexer.take()  # the $
    if lexer.peek() == "{":
        lexer.take()
        return _braced(lexer)
    name = _name(lexer)
    if not name:
        return "$"
    return lexer.env.get(name, "")


def _name(lexer: _Lexer) -> str:
    if lexer.peek() not in _NAME_START or not lexer.peek():
        return ""
    start = lexer.pos
    while lexer.peek() and lexer.peek() in _NAME_CHARS:
        lexer.take()
    return lexer.text[start:lexer.pos]


def _braced(lexer: _Lexer) -> str:
    name = _name(lexer)
    if not name:
        raise SubstitutionError("bad substitution: expected a variable name after ${")
    if lexer.peek() == "}":
        lexer.take()
        return lexer.env.get(name, "")
    colon = lexer.peek() == ":"
    if colon:
        lexer.take()
    operator = lexer.take()
    if operator not in ("-", "+", "?"):
        raise SubstitutionError(f"bad substitution: unsupported modifier in ${{{name}...}}")
    argument = _braced_word(lexer)
    value = lexer.env.get(name)
    is_set = value is not None and (value != "" or not colon)
    if operator == "-":
        return value if is_set and value is not None else argument
    if operator == "+":
        return argument if is_set else ""
    if not is_set:
        raise SubstitutionError(f"{name}: {argument or 'is not set'}")
    return value or ""


def _braced_word(lexer: _Lexer) -> str:
    """The word of `${VAR:-word}` up to the matching `}`, itself expanded."""
    out: list[str] = []
    while True:
        char = lexer.peek()
        if not char:
            raise SubstitutionError("bad substitution: missing '}'")
        if char == "}":
            lexer.take()
            return "".join(out)
        if char == lexer.escape:
            lexer.take()
            out.append(lexer.take())
        elif char == "$":
            out.append(_dollar(lexer))
        elif char == "'":
            lexer.take()
            out.append(_until_quote(lexer, "'"))
        elif char == '"':
            lexer.take()
            out.append(_double_quoted(lexer))
        else:
            out.append(lexer.take())


def key_values(text: str, env: Mapping[str, str], escape: str = "\\") -> list[tuple[str, str]]:
    """ENV and LABEL arguments: `k=v k2="v 2"`, or the legacy `k value with spaces`."""
    first = text.split(None, 1)
    if not first:
        return []
    if "=" not in first[0]:
        if len(first) < 2:
            raise SubstitutionError(f"{first[0]} needs a value")
        return [(first[0], word(first[1], env, escape))]
    pairs = []
    for item in words(text, env, escape):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SubstitutionError(f"{item!r} is not NAME=VALUE")
        pairs.append((name, value))
    return pairs
