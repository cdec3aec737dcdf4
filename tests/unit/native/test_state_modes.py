"""Records and config.json hold env values: they are written readable by root only."""

from __future__ import annotations

import stat
from pathlib import Path

from reconciler.drivers.native.container.state import write_record


def test_json_records_are_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        path = tmp_path / "spec.json"
        write_record(path, {"env": {"DB_PASSWORD": "x"}})
        write_record(path, {"env": {"DB_PASSWORD": "y"}})  # the replace keeps it
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
