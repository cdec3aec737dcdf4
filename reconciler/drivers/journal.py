"""A Driver wrapper that records every change it makes in the host's event journal.

Kept outside the drivers so every driver gets the same events; deaths (exit code, OOM)
are recorded by whoever sees them happen (the native driver's per-container monitor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.support.events import append_event

if TYPE_CHECKING:  # types only: wrapping a driver imports none of the model
    from reconciler.drivers.base import (
        ContainerStats,
        DriverEvent,
        ExecRequest,
        FullDriver,
        ImageInfo,
        LogLine,
        Progress,
        Subscription,
    )
    from reconciler.model.build import BuildRequest, BuildResult
    from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, VolumeSpec
    from reconciler.model.observed import Observed, ObservedContainer


class JournaledDriver:
    """Delegates to `inner`; after each successful change appends one event."""

    def __init__(self, inner: FullDriver, state_dir: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.parallelism: int | None = getattr(inner, "parallelism", None)  # base.py
        self.state_dir = state_dir

    def _event(self, kind: str, name: str, **attrs: object) -> None:
        append_event(self.state_dir, kind, name, driver=self.name, **attrs)

    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        return self.inner.observe(stacks, names)

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        digest = self.inner.ensure_image(image, progress)
        self._event("image", image.key, digest=digest)
        return digest

    def create_volume(self, volume: VolumeSpec) -> None:
        self.inner.create_volume(volume)
        self._event("volume-created", volume.full_name)

    def remove_volume(self, volume: VolumeSpec) -> None:
        self.inner.remove_volume(volume)
        self._event("volume-removed", volume.full_name)

    def create(self, spec: ContainerSpec) -> None:
        self.inner.create(spec)
        self._event("created", spec.name, config_hash=spec.config_hash)

    def start(self, name: str) -> None:
        self.inner.start(name)
        self._event("started", name)

    def stop(self, name: str, timeout: float | None = None) -> None:
        self.inner.stop(name, timeout)
        self._event("stopped", name)

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self.inner.kill(name, signal)
        self._event("killed", name, signal=signal)

    def remove(self, name: str) -> None:
        self.inner.remove(name)
        self._event("removed", name)

    def pause(self, name: str) -> None:
        self.inner.pause(name)
        self._event("paused", name)

    def unpause(self, name: str) -> None:
        self.inner.unpause(name)
        self._event("unpaused", name)

    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]:
        return self.inner.logs(name, follow, tail, since)

    def exec(self, name: str, request: ExecRequest) -> int:
        return self.inner.exec(name, request)

    def stats(self, name: str) -> ContainerStats:
        return self.inner.stats(name)

    # -- read-only, or events of their own (deaths are journaled by whoever sees them) --

    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        return self.inner.probe(container, check)

    def watch(self, on_event: Callable[[DriverEvent], None]) -> Subscription:
        return self.inner.watch(on_event)

    def inspect(self, name: str) -> dict[str, Any]:
        return self.inner.inspect(name)

    def host_facts(self) -> dict[str, Any]:
        return self.inner.host_facts()

    # -- the image store --

    def list_images(self) -> list[ImageInfo]:
        return self.inner.list_images()

    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        digest = self.inner.pull_image(ref, progress)
        self._event("image", ref, digest=digest)
        return digest

    def push_image(self, ref: str, source: str | None = None,
                   progress: Progress | None = None) -> str:  # fmt: skip
        pushed = self.inner.push_image(ref, source, progress)
        self._event("image-pushed", ref, digest=pushed.rpartition("@")[2])
        return pushed

    def tag_image(self, source: str, ref: str) -> str:
        digest = self.inner.tag_image(source, ref)
        self._event("image-tagged", ref, digest=digest)
        return digest

    def build_dockerfile(self, request: BuildRequest, tags: list[str],
                         report: Callable[[str], None]) -> BuildResult:  # fmt: skip
        built = self.inner.build_dockerfile(request, tags, report)
        for tag in tags:  # what changed on the host: names given to an image (no args)
            self._event("image-tagged", tag, digest=built.digest, why="build")
        return built

    def remove_image(self, digest: str) -> None:
        self.inner.remove_image(digest)
        self._event("image-removed", digest)

    def prune_images(self, keep: frozenset[str]) -> list[str]:
        removed = self.inner.prune_images(keep)
        for digest in removed:
            self._event("image-removed", digest, why="prune")
        return removed
