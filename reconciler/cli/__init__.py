"""The `reconcile` command: argument parsing (main), the driver and state-dir context,
and one module per command group. The only stage that may import every other one."""

from reconciler.cli.main import main

__all__ = ["main"]
