""".dockerignore: Docker's pattern rules."""

from __future__ import annotations

import pytest

from reconciler.drivers.images.dockerfile.ignore import glob_regex, parse_ignore

RULES = parse_ignore(
    """
# comment
*.log
!keep.log
build/
**/node_modules
/secret
docs/**/*.tmp
!build/dist
a?c
"""
)


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("x.log", True),
        ("keep.log", False),
        ("sub/x.log", False),  # `*` does not cross `/`
        ("build", True),
        ("build/out.o", True),  # under an excluded folder
        ("build/dist", False),
        ("build/dist/app", False),  # under the re-included folder
        ("node_modules", True),
        ("src/deep/node_modules/pkg/index.js", True),
        ("secret", True),
        ("secret/inner", True),
        ("src/secret", False),
        ("docs/a.tmp", True),  # ** matches zero folders
        ("docs/x/y/a.tmp", True),
        ("docs/a.txt", False),
        ("abc", True),
        ("abbc", False),
        ("main.py", False),
    ],
)
def test_patterns(path: str, excluded: bool) -> None:
    assert RULES.excluded(path) is excluded


def test_exceptions_flag_and_cleaning() -> None:
    assert RULES.has_exceptions
    rules = parse_ignore("./a/../b\n")
    assert [p.text for p in rules.patterns] == ["b"]
    assert not parse_ignore("*.o\n").has_exceptions


def test_classes_and_escapes() -> None:
    rules = parse_ignore("[a-c].txt\n[!x]y\nlit\\*\n")
    assert rules.excluded("b.txt") and not rules.excluded("d.txt")
    assert rules.excluded("zy") and not rules.excluded("xy")
    assert rules.excluded("lit*") and not rules.excluded("litx")


def test_copy_glob() -> None:
    pattern = glob_regex("src/*.py")
    assert pattern.match("src/a.py") and not pattern.match("src/sub/a.py")
