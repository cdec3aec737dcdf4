"""What every command gets: parsed arguments and a lazily made driver."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.drivers.base import Driver
from reconciler.errors import ReconcileError


def make_driver(name: str, state_dir: Path) -> Driver:
    if name == "native":
        from reconciler.drivers.journal import JournaledDriver
        from reconciler.drivers.native.driver import NativeDriver

        return JournaledDriver(NativeDriver(state_dir), state_dir)
    raise ReconcileError(f"driver {name!r} is not available in this version (use --driver native)")


@dataclass
class Context:
    args: argparse.Namespace
    injected_driver: Driver | None = None
    _driver: Driver | None = field(default=None, init=False)

    @property
    def state_dir(self) -> Path:
        path: Path = self.args.state_dir
        return path

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            self._driver = self.injected_driver or make_driver(self.args.driver, self.state_dir)
        return self._driver

    @property
    def color(self) -> bool:
        return sys.stdout.isatty()

    def out(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
