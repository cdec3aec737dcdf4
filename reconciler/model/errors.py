"""The project's own error types. Backend exceptions are converted into these at the edges."""

from __future__ import annotations

from typing import Literal

from reconciler.model.records import record


@record(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located in its file. A `warning` is allowed input
    that deserves a second look (a risky mount or capability); it never fails a command."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    message: str
    severity: Literal["error", "warning"] = "error"

    @property
    def one_line(self) -> str:
        """The message with control characters escaped: a quoted value cannot start a line."""
        return self.message.translate(_ESCAPES)

    def __str__(self) -> str:
        # One problem, one line: a value quoted in a message cannot start a fake line.
        message = self.one_line
        if self.severity == "warning":
            message = f"warning: {message}"
        if self.line:
            return f"{self.file}:{self.line}:{self.column}: {message}"
        return f"{self.file}: {message}"


_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(32), 127)} | {10: "\\n", 13: "\\r", 9: "\\t"}


class ReconcileError(Exception):
    """Base of every error reconcile raises on purpose. Exit code 1."""

    exit_code = 1


class SpecError(ReconcileError):
    """The input is invalid. Carries every problem found, not just the first. Exit code 3."""

    exit_code = 3

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class DriverError(ReconcileError):
    """A driver operation failed; `target` names the container, image or volume."""

    def __init__(self, target: str, message: str) -> None:
        self.target = target
        super().__init__(f"{target}: {message}")


class NotFound(DriverError):
    """The named object does not exist on the host."""


class ImageError(DriverError):
    """An image could not be imported, built, pulled or unpacked safely."""


class RuntimeMissing(ReconcileError):
    """No usable OCI runtime (runc/crun) or other required host tool."""


class LockBusy(ReconcileError):
    """Another reconcile process holds the state-dir lock."""


class StalePlan(ReconcileError):
    """A saved plan no longer fits the host or the stack files (`apply --plan`). Exit 1."""
