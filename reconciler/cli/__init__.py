"""The `reconcile` command: argument parsing (main), the driver and state-dir context,
and one module per command group. The only stage that may import every other one.

`main` here answers a settled no-op apply (cli/settled.py) before the parser, the model
and the engine are imported at all; everything else goes to cli/main.py."""

from __future__ import annotations

import gc
import sys

TYPE_CHECKING = False  # `typing` costs ~4-8 ms of the settled no-op's ~30 ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def main(argv: Sequence[str] | None = None, *, driver: Any = None) -> int:
    """`argv` None: the process's own command line, and the process ends when this returns.
    Everything still alive is then frozen out of the collector: the interpreter's final
    collection would otherwise walk it all (~60-90 ms after a 500-service Compose plan,
    bench/REPORT.md "Compose file"), only to free memory that the exit returns anyway."""
    try:
        return _command(argv, driver)
    finally:
        if argv is None:
            gc.freeze()


def _command(argv: Sequence[str] | None, driver: Any) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if driver is None:
        from reconciler.cli import settled

        answered = settled.answer(words)
        if answered is not None:
            return answered
    from reconciler.support.gcpause import paused_gc

    with paused_gc():  # what the imports make lives to the end: no collection walks it
        from reconciler.cli.main import main as full

        if argv is None:  # the process's own command (see main); a caller's objects stay
            gc.freeze()

    # importing the submodule `main` rebinds this package's `main` to it: keep the function
    sys.modules[__name__].main = _entry  # type: ignore[attr-defined]
    return full(words, driver=driver)


_entry = main


__all__ = ["main"]
