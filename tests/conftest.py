"""Suite-wide rules. Under CI=true a missing dependency is a failure, never a skip: every
skip is turned into a failure there, whatever raised it."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

IN_CI = os.environ.get("CI") == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (a missing dependency is a failure): {reason}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The native driver makes its cgroups under a `reconcile` parent in each controller
    (cgroups.PARENT) and, like dockerd's `docker` parent, leaves that parent when its last
    container goes; the suite made it, so the suite removes it when empty. rmdir refuses a
    parent that still holds a cgroup (another reconcile's containers): those stay."""
    import contextlib
    from pathlib import Path

    from reconciler.drivers.native.container.cgroups import PARENT

    root = Path("/sys/fs/cgroup")
    for parent in [root / PARENT, *root.glob(f"*/{PARENT}")]:
        with contextlib.suppress(OSError):  # absent, busy, or not ours (not root)
            parent.rmdir()
