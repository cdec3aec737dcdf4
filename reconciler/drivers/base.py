"""The one small protocol every driver implements.

Only the project's own errors (reconciler.errors) leave a driver: backend exceptions are
converted here, at the edge. Every method that takes a `name` takes the host-wide
container name ("shop-web", "shop-web-2").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from reconciler.model.desired import ContainerSpec, ImageSource, VolumeSpec
from reconciler.model.observed import Observed

# Progress callback for long image operations: (what, bytes done, bytes total or None).
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class LogLine:
    time: float  # seconds since the epoch
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True)
class ContainerStats:
    name: str
    cpu_percent: float
    memory_usage: int  # bytes
    memory_limit: int | None  # bytes; None when unlimited
    pids: int


@dataclass(frozen=True)
class ExecRequest:
    argv: Sequence[str]
    tty: bool = False
    interactive: bool = False
    env: Sequence[tuple[str, str]] = ()
    user: str | None = None
    workdir: str | None = None


@runtime_checkable
class Driver(Protocol):
    name: str

    def observe(self, stacks: frozenset[str] | None = None) -> Observed:
        """Containers owned by reconcile (all, or those of `stacks`), local images, volumes."""
        ...

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        """Import, build or pull `image` if the store lacks it; return its digest."""
        ...

    def create_volume(self, volume: VolumeSpec) -> None: ...

    def remove_volume(self, volume: VolumeSpec) -> None: ...

    def create(self, spec: ContainerSpec) -> None:
        """Create the container (not started). Its image must already be ensured."""
        ...

    def start(self, name: str) -> None: ...

    def stop(self, name: str, timeout: float | None = None) -> None:
        """stop_signal, wait `timeout` (default: the spec's stop_grace_period), SIGKILL."""
        ...

    def kill(self, name: str, signal: str = "SIGKILL") -> None: ...

    def remove(self, name: str) -> None:
        """Stop if running, then remove everything the container owns on the host."""
        ...

    def pause(self, name: str) -> None: ...

    def unpause(self, name: str) -> None: ...

    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]: ...

    def exec(self, name: str, request: ExecRequest) -> int:
        """Run a command in the container; return its exit status."""
        ...

    def stats(self, name: str) -> ContainerStats: ...
