"""Pure parts of the pull limits: the watchdog's rate and deadline rules (fake clock, no
thread), the --pull-timeout flag, and the hole-writing copy."""

from __future__ import annotations

import io
import os
from pathlib import Path

from reconciler.cli.context import Context
from reconciler.cli.main import build_parser
from reconciler.drivers.images.sparse import copy_with_holes
from reconciler.drivers.native.registry.options import DEFAULT_PULL_TIMEOUT, RegistryOptions
from reconciler.drivers.native.registry.transfer import Watchdog


class _Conn:
    sock = None


def _dog(now: list[float], **options: float) -> Watchdog:
    return Watchdog("reg:5000", "a/b", RegistryOptions(**options),  # type: ignore[arg-type]
                    clock=lambda: now[0], thread=False)  # fmt: skip


def test_a_transfer_below_the_rate_is_stopped_after_one_window() -> None:
    now = [0.0]
    dog = _dog(now, min_rate_bytes=1024, min_rate_window=30)
    transfer = dog.begin("reg:5000", "layer sha256:ab12", _Conn())  # type: ignore[arg-type]
    for second in range(1, 31):
        now[0] = float(second)
        transfer.total += 10 if second < 29 else 0
        dog.tick()
        if second < 30:
            assert transfer.reason == ""
    assert transfer.reason == ("registry reg:5000 sent 280 bytes in 30 s for layer sha256:ab12: "
                               "below the minimum of 1 KiB per 30 s; stopped")  # fmt: skip


def test_a_steady_transfer_passes_and_the_deadline_stops_it() -> None:
    now = [0.0]
    dog = _dog(now, min_rate_bytes=1024, min_rate_window=5, pull_timeout=60)
    transfer = dog.begin("reg:5000", "layer sha256:ab12", _Conn())  # type: ignore[arg-type]
    for second in range(1, 60):
        now[0] = float(second)
        transfer.total += 1024
        dog.tick()
    assert transfer.reason == ""
    now[0] = 60.0
    dog.tick()
    assert transfer.reason == ("registry reg:5000: pull of a/b did not finish within 60 s, the "
                               "pull deadline (while fetching layer sha256:ab12); stopped")


def test_pull_timeout_flag() -> None:
    args = build_parser().parse_args(["--pull-timeout", "90", "version"])
    assert Context(args=args).registry_options().pull_timeout == 90
    args = build_parser().parse_args(["version"])
    assert Context(args=args).registry_options().pull_timeout == DEFAULT_PULL_TIMEOUT


def test_zero_blocks_become_holes(tmp_path: Path) -> None:
    data = b"a" * 100 + bytes(3 << 20) + b"b" * 10 + bytes(200 << 10)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        copy_with_holes(io.BytesIO(data), fd, len(data))
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == data
    assert (tmp_path / "f").stat().st_blocks * 512 < 1 << 20
