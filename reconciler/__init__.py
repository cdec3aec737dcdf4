"""reconcile: keep a Linux host's containers equal to a declared spec."""

__version__ = "0.1.0"
