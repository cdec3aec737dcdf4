"""The contract every driver implements, in two small protocols.

- `Driver`: what convergence needs. The planner's input (observe), the executor's calls
  (images, volumes, container lifecycle), and what the control loop and health checks need
  (an event stream of deaths, probes run in the container's context).
- `Operations`: what operators' commands need (pause, logs, exec, stats, inspect, the
  image store, host facts).

`FullDriver` is both: what the CLI hands out. Nothing above the drivers reaches around
these (the import contracts check it). Only the project's own errors (model.errors) leave
a driver: backend exceptions are converted once, at its edge. Every method that takes a
`name` takes the host-wide container name ("shop-web", "shop-web-2").

A driver may also state how many actions the executor should run at once when the user
gives no --parallelism: an int attribute `parallelism` (optional, so not a protocol member;
engine.execute.parallelism_of reads it). The docker driver sets it high (the engine does
the work and runs it concurrently); without it the executor runs 4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from reconciler.model.records import record

# The model appears only in signatures: importing it here would make every command that
# names the contract (the CLI, the journal) pay for all of desired.py's dataclasses.
if TYPE_CHECKING:
    from reconciler.model.build import BuildRequest, BuildResult
    from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, VolumeSpec
    from reconciler.model.observed import Observed, ObservedContainer

# Progress callback for long image operations: (what, bytes done, bytes total or None).
Progress = Callable[[str, int, int | None], None]


@record(frozen=True)
class LogLine:
    """One line of a container's output, with its time and stream."""
    time: float  # seconds since the epoch
    stream: str  # "stdout" | "stderr"
    text: str


@record(frozen=True)
class ContainerStats:
    """A container's resource use at one moment."""
    name: str
    cpu_percent: float
    memory_usage: int  # bytes
    memory_limit: int | None  # bytes; None when unlimited
    pids: int


@record(frozen=True)
class ExecRequest:
    """A command to run inside a running container."""
    argv: Sequence[str]
    tty: bool = False
    interactive: bool = False
    env: Sequence[tuple[str, str]] = ()
    user: str | None = None
    workdir: str | None = None


@record(frozen=True)
class DriverEvent:
    """Something that happened to a container behind the executor's back."""

    kind: Literal["died"]  # the process exited, was killed, or OOM-killed
    name: str
    time: float  # time.time() when the driver saw it
    exit_code: int | None = None
    oom_killed: bool = False


@record(frozen=True)
class ImageInfo:
    """An image as the driver's store holds it."""
    digest: str
    identity: str  # what it was ensured for (ImageSource.identity), or a reference
    size: int  # bytes
    layers: int


class Subscription(Protocol):
    def close(self) -> None:
        """Stop delivering events; returns once no callback runs any more."""
        ...


@runtime_checkable
class Driver(Protocol):
    name: str

    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        """Containers owned by reconcile (all, or those of `stacks`; with `names`, only those
        containers: the loop's look at the ones that died), local images, volumes."""
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

    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        """Run one health check in the container's context (exec inside it; tcp/http to
        127.0.0.1:port in its network). True when healthy. May block up to check.timeout;
        the caller bounds it."""
        ...

    def watch(self, on_event: Callable[[DriverEvent], None]) -> Subscription:
        """Call `on_event` (from a thread of the driver's) for every container death from
        now on, until the subscription is closed. Deaths that happened before are found
        by observe()."""
        ...


@runtime_checkable
class Operations(Protocol):
    name: str

    def pause(self, name: str) -> None: ...

    def unpause(self, name: str) -> None: ...

    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]: ...

    def exec(self, name: str, request: ExecRequest) -> int:
        """Run a command in the container; return its exit status."""
        ...

    def stats(self, name: str) -> ContainerStats: ...

    def inspect(self, name: str) -> dict[str, Any]:
        """What the backend knows beyond ObservedContainer (network, runtime), JSON-able."""
        ...

    def list_images(self) -> list[ImageInfo]: ...

    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        """Ask the registry for `ref` now (like `pull: always`); return the digest."""
        ...

    def push_image(self, ref: str, source: str | None = None,
                   progress: Progress | None = None) -> str:  # fmt: skip
        """Push the local image `source` (default: `ref` itself) to the registry as `ref`;
        return the pushed `name@sha256:<manifest digest>`."""
        ...

    def tag_image(self, source: str, ref: str) -> str:
        """Make the local image `source` known as `ref` too; return its digest."""
        ...

    def build_dockerfile(self, request: BuildRequest, tags: list[str],
                         report: Callable[[str], None]) -> BuildResult:  # fmt: skip
        """`images build`: build the Dockerfile, tag the result with `tags` (only once the
        whole build succeeded), print progress lines through `report`. A driver that does
        not build raises ReconcileError naming what does."""
        ...

    def remove_image(self, digest: str) -> None: ...

    def prune_images(self, keep: frozenset[str]) -> list[str]:
        """Remove every image whose digest is not in `keep`; return what was removed."""
        ...

    def host_facts(self) -> dict[str, Any]:
        """The backend's facts for `reconcile info` (runtime, cgroups, limits, ...)."""
        ...


@runtime_checkable
class FullDriver(Driver, Operations, Protocol):
    """Both protocols: what the CLI's commands get."""
