"""What the builder needs from a container runtime, as a protocol: the native driver
implements it with runc (drivers/native/buildrun.py), so the builder imports no driver."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from reconciler.model.records import record


@record(frozen=True)
class RunJob:
    """One RUN step: run `argv` on the image's layers; every change lands in `upper`."""

    layers: tuple[Path, ...]  # bottom -> top
    upper: Path  # an empty directory: receives the step's changes (overlayfs upperdir)
    work: Path  # an empty directory on the same filesystem (overlayfs workdir)
    argv: tuple[str, ...]
    env: tuple[str, ...]  # KEY=VALUE
    user: str  # "" for root
    cwd: str
    network: bool  # False: a private network namespace with only loopback


@record(frozen=True)
class RunOutcome:
    status: int
    output: bytes  # stdout and stderr, interleaved as written


class StepRunner(Protocol):
    def run(self, job: RunJob) -> RunOutcome: ...

    def resolve_user(self, user: str, layers: Sequence[Path]) -> tuple[int, int]:
        """`user[:group]` (names or ids) -> uid, gid, read from the layers' /etc files."""
        ...

    def view(self, layers: Sequence[Path]) -> AbstractContextManager[Path]:
        """The merged, read-only file tree of `layers` (COPY --from reads it)."""
        ...
