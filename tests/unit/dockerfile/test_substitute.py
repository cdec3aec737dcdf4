"""Docker's variable substitution and word splitting."""

from __future__ import annotations

import pytest

from reconciler.drivers.images.dockerfile.substitute import (
    SubstitutionError,
    key_values,
    word,
    words,
)

ENV = {"A": "a", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "a"),
        ("${A}b", "ab"),
        ("$Ab", ""),  # the name is Ab
        ("${MISSING:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${MISSING-dflt}", "dflt"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${MISSING+alt}", ""),
        ("${MISSING:-${A}x}", "ax"),
        ("'$A'", "$A"),
        ('"$A $SP"', "a x y"),
        ("\\$A", "$A"),
        ("$", "$"),
        ("cost $5", "cost $5"),
    ],
)
def test_word(text: str, expected: str) -> None:
    assert word(text, ENV) == expected


def test_words_split_on_unquoted_space_only() -> None:
    assert words('a "b c" $SP d\\ e', ENV) == ["a", "b c", "x", "y", "d e"]
    # unquoted, an expanded value splits (Docker's lexer); quoted it stays one word
    assert words("p$SP", ENV) == ["px", "y"]
    assert words('"$SP"', ENV) == ["x y"]
    assert words("$EMPTY a", ENV) == ["a"]


def test_backtick_escape() -> None:
    assert word("`$A", ENV, escape="`") == "$A"


def test_required_variable() -> None:
    with pytest.raises(SubstitutionError, match="MISSING: set it"):
        word("${MISSING:?set it}", ENV)
    assert word("${A:?set it}", ENV) == "a"


@pytest.mark.parametrize("text", ["${", "${A", "${A:x}", "'open", '"open', "${1}"])
def test_malformed(text: str) -> None:
    with pytest.raises(SubstitutionError):
        word(text, ENV)


def test_key_values_forms() -> None:
    assert key_values('A=1 B="two words" C=$A', ENV) == [("A", "1"), ("B", "two words"),
                                                         ("C", "a")]
    assert key_values("LEGACY value with  spaces", ENV) == [("LEGACY", "value with  spaces")]
    assert key_values('"com.example.x"="y"', ENV) == [("com.example.x", "y")]
    with pytest.raises(SubstitutionError, match="needs a value"):
        key_values("ALONE", ENV)
