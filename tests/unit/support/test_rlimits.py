"""support.rlimits: the host's hard limits, one implementation for validation and drivers."""

from __future__ import annotations

import resource

import pytest

from reconciler.model.errors import ReconcileError
from reconciler.support import rlimits
from reconciler.support.rlimits import host_hard_limit


def test_host_hard_limit_matches_getrlimit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    expected = None if hard == resource.RLIM_INFINITY else hard
    assert host_hard_limit("nofile") == expected
    assert host_hard_limit("NOFILE") == expected


def test_host_hard_limit_unknown_name() -> None:
    with pytest.raises(ReconcileError, match="unknown resource limit"):
        host_hard_limit("bogus")
    with pytest.raises(ReconcileError, match=r"'fsize_max' \(ulimits: as, core, "):
        host_hard_limit("fsize_max")  # RLIMIT_ prefixed, but not a ulimit name


def test_every_ulimit_name_has_a_number_even_without_a_python_constant() -> None:
    assert rlimits.rlimit_number("locks") == 10  # resource has no RLIMIT_LOCKS
    for name in rlimits.ULIMIT_NAMES:
        rlimits.host_hard_limit(name)  # none raises
