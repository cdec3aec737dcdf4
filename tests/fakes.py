"""InMemoryDriver: the whole driver contract (reconciler.drivers.base.FullDriver) held in
memory, and nothing else: no native internals, so the engine, the loop and the CLI are
exercised against the contract alone.

It records every call in `calls` (("create", "shop-db"), ...), fails the calls named in
`fail_on` with a DriverError, and can hold each call for `delay` seconds so tests can count
how many run at once (`max_in_flight`). Images live in `images` (identity -> digest); set
an entry to a new digest to simulate a tag that moved; a reference pinned with
`@sha256:...` resolves to that digest, as a registry serves it. A started container with a
healthcheck is `healthy` at once, unless its name is in `unhealthy`; probe() answers the
same way (an exec check runs exec()). die() ends a container as a crash would and tells
the watch() subscribers, as a real driver's event stream does.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.drivers.base import (
    ContainerStats,
    DriverEvent,
    ExecRequest,
    ImageInfo,
    LogLine,
    Progress,
)
from reconciler.model.build import BuildRequest, BuildResult
from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, VolumeSpec
from reconciler.model.errors import DriverError, NotFound
from reconciler.model.hashing import hashed_fields
from reconciler.model.labels import ownership_labels
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.model.records import replace


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class InMemoryDriver:
    name = "memory"

    def __init__(self, fail_on: set[tuple[str, str]] | None = None, delay: float = 0.0) -> None:
        self.containers: dict[str, ObservedContainer] = {}
        self.images: dict[str, str] = {}
        self.volumes: set[str] = set()
        self.calls: list[tuple[str, ...]] = []
        self.fail_on = set(fail_on or ())
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.checked: set[str] = set()  # names created with a healthcheck
        self.unhealthy: set[str] = set()  # ... whose checks fail
        self.subscribers: list[Callable[[DriverEvent], None]] = []
        self.probed: list[str] = []

    def _call(self, method: str, target: str) -> None:
        """Record the call, hold it for `delay`, and fail it if asked to."""
        with self._lock:
            self.calls.append((method, target))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if (method, target) in self.fail_on:
                raise DriverError(target, f"injected failure of {method}")
        finally:
            with self._lock:
                self.in_flight -= 1

    def _get(self, name: str) -> ObservedContainer:
        if name not in self.containers:
            raise NotFound(name, "no such container")
        return self.containers[name]

    def _set_state(self, name: str, **changes: object) -> None:
        with self._lock:
            self.containers[name] = replace(self._get(name), **changes)  # type: ignore[arg-type]

    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        self.calls.append(("observe",) if names is None else ("observe", *sorted(names)))
        chosen = [c for c in self.containers.values() if (stacks is None or c.stack in stacks)
                  and (names is None or c.name in names)]
        return Observed(tuple(chosen), dict(self.images), frozenset(self.volumes))

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        self._call("ensure_image", image.key)
        with self._lock:
            pinned = image.identity.rpartition("@")[2] if "@sha256:" in image.identity else ""
            return self.images.setdefault(image.identity, pinned or digest_of(image.identity))

    def create_volume(self, volume: VolumeSpec) -> None:
        self._call("create_volume", volume.full_name)
        self.volumes.add(volume.full_name)

    def remove_volume(self, volume: VolumeSpec) -> None:
        self._call("remove_volume", volume.full_name)
        self.volumes.discard(volume.full_name)

    def create(self, spec: ContainerSpec) -> None:
        self._call("create", spec.name)
        if spec.name in self.containers:
            raise DriverError(spec.name, "a container with this name exists")
        if spec.image.identity not in self.images:
            raise NotFound(spec.image.key, "image not in the store")
        digest = self.images[spec.image.identity]
        with self._lock:
            self.containers[spec.name] = observed_from_spec(spec, digest, state="created")
            if spec.healthcheck is not None:
                self.checked.add(spec.name)

    def start(self, name: str) -> None:
        self._call("start", name)
        health = "none"
        if name in self.checked:
            health = "unhealthy" if name in self.unhealthy else "healthy"
        seen = self._get(name)
        restarts = seen.restart_count + (seen.state == "exited" and seen.started_at is not None)
        self._set_state(name, state="running", pid=1000 + len(self.calls), exit_code=None,
                        health=health, started_at=time.time(), restart_count=restarts)

    def stop(self, name: str, timeout: float | None = None) -> None:
        self._call("stop", name)
        self._set_state(name, state="exited", pid=None, exit_code=0)

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._call("kill", name)
        self._set_state(name, state="exited", pid=None, exit_code=137)

    def remove(self, name: str) -> None:
        self._call("remove", name)
        self._get(name)
        with self._lock:
            del self.containers[name]

    def pause(self, name: str) -> None:
        self._call("pause", name)
        self._set_state(name, state="paused")

    def unpause(self, name: str) -> None:
        self._call("unpause", name)
        self._set_state(name, state="running")

    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]:
        self._call("logs", name)
        return iter(())

    def exec(self, name: str, request: ExecRequest) -> int:
        self._call("exec", name)
        return 0

    def stats(self, name: str) -> ContainerStats:
        self._call("stats", name)
        return ContainerStats(name, 0.0, 0, None, 1)

    # -- health probes and the event stream --

    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        self.probed.append(container.name)  # not in `calls`: those are the lifecycle
        if check.kind == "exec":
            return self.exec(container.name, ExecRequest(argv=list(check.exec))) == 0
        return container.name not in self.unhealthy

    def watch(self, on_event: Callable[[DriverEvent], None]) -> _Subscription:
        self.subscribers.append(on_event)
        return _Subscription(self.subscribers, on_event)

    def die(self, name: str, exit_code: int = 1, oom_killed: bool = False) -> None:
        """The container's process ends behind the executor's back."""
        now = time.time()
        self._set_state(name, state="exited", pid=None, exit_code=exit_code,
                        oom_killed=oom_killed, finished_at=now)
        for notify in list(self.subscribers):
            notify(DriverEvent("died", name, now, exit_code=exit_code, oom_killed=oom_killed))

    # -- operators' commands --

    def inspect(self, name: str) -> dict[str, Any]:
        self._get(name)
        return {"backend": {"driver": self.name, "calls": len(self.calls)}}

    def list_images(self) -> list[ImageInfo]:
        return [ImageInfo(digest, identity, 1024, 1)
                for identity, digest in sorted(self.images.items())]

    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        self._call("pull_image", ref)
        with self._lock:
            return self.images.setdefault(f"ref:{ref}", digest_of(f"ref:{ref}"))

    def push_image(self, ref: str, source: str | None = None,
                   progress: Progress | None = None) -> str:  # fmt: skip
        self._call("push_image", ref)
        with self._lock:
            digest = self.images.get(f"ref:{source or ref}")
        if digest is None:
            raise NotFound(source or ref, "no such image in the store")
        return f"{ref.rsplit(':', 1)[0]}@{digest}"

    def build_dockerfile(self, request: BuildRequest, tags: list[str],
                         report: Callable[[str], None]) -> BuildResult:  # fmt: skip
        """A build that makes one image per context folder (no Dockerfile is read)."""
        self._call("build_dockerfile", str(request.context))
        digest = digest_of(f"built:{request.context}")
        report(f"built {digest}")
        with self._lock:
            for tag in tags:
                self.images[f"ref:{tag}"] = digest
        return BuildResult(digest=digest)

    def tag_image(self, source: str, ref: str) -> str:
        self._call("tag_image", ref)
        with self._lock:
            digest = self.images.get(f"ref:{source}")
            if digest is None:
                raise NotFound(source, "no such image in the store")
            self.images[f"ref:{ref}"] = digest
        return digest

    def remove_image(self, digest: str) -> None:
        self._call("remove_image", digest)
        if digest not in self.images.values():
            raise NotFound(digest, "no such image in the store")
        self.images = {i: d for i, d in self.images.items() if d != digest}

    def prune_images(self, keep: frozenset[str]) -> list[str]:
        removed = sorted({d for d in self.images.values() if d not in keep})
        self.images = {i: d for i, d in self.images.items() if d in keep}
        return removed

    def host_facts(self) -> dict[str, Any]:
        return {"backend": "in memory"}


class _Subscription:
    def __init__(self, subscribers: list[Callable[[DriverEvent], None]],
                 sink: Callable[[DriverEvent], None]) -> None:
        self.subscribers, self.sink = subscribers, sink

    def close(self) -> None:
        if self.sink in self.subscribers:
            self.subscribers.remove(self.sink)


def observed_from_spec(
    spec: ContainerSpec, digest: str, state: str = "running", **extra: object
) -> ObservedContainer:
    """What a driver would observe for a container created from `spec` with image `digest`."""
    container = ObservedContainer(
        name=spec.name,
        stack=spec.stack,
        key=spec.key,
        labels=ownership_labels(spec, digest),
        config_hash=spec.config_hash,
        image_digest=digest,
        state=state,  # type: ignore[arg-type]
        recorded_spec=hashed_fields(spec),
    )
    return replace(container, **extra)  # type: ignore[arg-type]
