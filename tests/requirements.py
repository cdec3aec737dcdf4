"""One rule for missing host dependencies: under CI=true they fail the test; only on a
developer machine (say, without root) do they skip it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"


def missing(message: str) -> NoReturn:
    """Stop this test because `message` (a dependency) is not on this host."""
    pytest.fail(message) if IN_CI else pytest.skip(message)
    raise AssertionError("unreachable")  # pytest.fail/skip raise; this keeps mypy honest


def need(condition: object, message: str) -> None:
    if not condition:
        missing(message)


def need_root(what: str) -> None:
    need(os.geteuid() == 0, f"{what} needs root")
