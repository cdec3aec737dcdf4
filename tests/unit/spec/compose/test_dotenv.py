""".env files as Compose reads them: comments, `export`, quotes, escapes, multi-line values,
expansion from the process environment then the file; located problems without values."""

from __future__ import annotations

from pathlib import Path

from reconciler.spec.compose.dotenv import read_env_file


def _read(tmp_path: Path, text: str, environ: dict[str, str] | None = None
          ) -> tuple[dict[str, str], list[str]]:
    path = tmp_path / ".env"
    path.write_text(text)
    out: dict[str, str] = {}
    problems = read_env_file(path, environ or {}, out)
    return out, [f"{p.line}:{p.message}" for p in problems]


def test_the_syntax_compose_reads(tmp_path: Path) -> None:
    out, problems = _read(tmp_path, """\ufeff# comment
PLAIN=value
export EXPORTED=yes
SPACED = padded value\t
COMMENTED=before # after
HASH=a#b
COLON: yaml style
EMPTY=
SINGLE='literal ${PLAIN} \\n'
DOUBLE="tab\\there ${PLAIN} \\"quoted\\""
MULTI="line one
line two"
EXPANDED=${PLAIN}-${FROM_ENV}
DEFAULTED=${NOPE:-fallback}
DOLLAR="\\$PLAIN"
DOTTED.KEY-1=ok
""", {"FROM_ENV": "env"})
    assert problems == []
    assert out == {"PLAIN": "value", "EXPORTED": "yes", "SPACED": "padded value",
                   "COMMENTED": "before", "HASH": "a#b", "COLON": "yaml style", "EMPTY": "",
                   "SINGLE": "literal ${PLAIN} \\n", "DOUBLE": 'tab\there value "quoted"',
                   "MULTI": "line one\nline two", "EXPANDED": "value-env",
                   "DEFAULTED": "fallback", "DOLLAR": "$PLAIN", "DOTTED.KEY-1": "ok"}


def test_the_process_environment_wins_in_expansion_and_bare_keys_inherit(tmp_path: Path) -> None:
    out, _ = _read(tmp_path, "A=file\nB=${A}\nINHERITED\nMISSING\n", {"A": "env",
                                                                       "INHERITED": "i"})
    assert out == {"A": "file", "B": "env", "INHERITED": "i"}


def test_a_later_file_sees_and_overrides_an_earlier_one(tmp_path: Path) -> None:
    (tmp_path / "one.env").write_text("A=1\nB=one\n")
    (tmp_path / "two.env").write_text("B=${A}-two\n")
    out: dict[str, str] = {}
    for name in ("one.env", "two.env"):
        assert read_env_file(tmp_path / name, {}, out) == []
    assert out == {"A": "1", "B": "1-two"}


def test_bad_lines_are_located_without_their_value(tmp_path: Path) -> None:
    assert _read(tmp_path, "OK=1\nBAD KEY=secret\n")[1] == [
        "2:a variable name cannot contain a space"]
    assert _read(tmp_path, "OK=1\n\nA=\"secret never closed\nmore\n")[1] == [
        '3:unterminated "quoted" value']
    problems = _read(tmp_path, "A$B=secret\n")[1]
    assert problems == ["1:unexpected character '$' in a variable name (expected letters, "
                        "digits, `_`, `.`, `-`)"]
    assert _read(tmp_path, "A=${B:?secret-hint}\n")[1] == [
        "1:required variable B is missing a value: secret-hint"]


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    problems = read_env_file(tmp_path / "absent.env", {}, {})
    assert [p.message for p in problems] == ["cannot read env file: No such file or directory"]
