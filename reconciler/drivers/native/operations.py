"""The native driver's half of the contract that is not container lifecycle: health probes,
the death event stream, and what operators' commands ask (inspect, the image store, host
facts). NativeDriver inherits it; kept apart so that each file stays short."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.drivers.base import DriverEvent, ImageInfo, Progress, Subscription
from reconciler.drivers.native import hostinfo, probes
from reconciler.drivers.native.container.runtime import Runc
from reconciler.drivers.native.container.state import StateLayout
from reconciler.drivers.native.deaths import DeathWatch
from reconciler.drivers.native.edge import edge
from reconciler.drivers.native.library import ImageLibrary
from reconciler.drivers.native.network.hostfacts import host_changes
from reconciler.drivers.native.network.manager import NetworkManager
from reconciler.model.desired import Healthcheck, ImageSource
from reconciler.model.errors import ReconcileError
from reconciler.model.observed import ObservedContainer
from reconciler.model.reference import normalize_reference
from reconciler.support import rlimits


class NativeOperations:
    layout: StateLayout
    images: ImageLibrary
    network: NetworkManager

    @property
    def runc(self) -> Runc:
        raise NotImplementedError  # NativeDriver's

    # -- what convergence needs besides the lifecycle --

    @edge("health probe")
    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        if container.pid is None:
            return False
        if check.kind == "exec":
            argv = self.runc.exec_argv(container.name, list(check.exec), False, (), None, None)
            try:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, timeout=check.timeout,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired):
                return False
            return done.returncode == 0
        port = check.port or 0
        if check.kind == "tcp":
            return probes.in_netns(container.pid, lambda: probes.tcp_probe(port, check.timeout))
        return probes.in_netns(
            container.pid, lambda: probes.http_probe(port, check.path, check.timeout))

    @edge("event stream")
    def watch(self, on_event: Callable[[DriverEvent], None]) -> Subscription:
        return DeathWatch(self.layout.containers, on_event).start()

    # -- operators' commands --

    @edge("inspect")
    def inspect(self, name: str) -> dict[str, Any]:
        """The container's netns links and addresses as the kernel reports them."""
        return {"network": self.network.details(name)}

    @edge("list images", image=True)
    def list_images(self) -> list[ImageInfo]:
        return [ImageInfo(r.digest, r.identity, r.size, len(r.layers))
                for r in self.images.list()]

    @edge("pull", image=True)
    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        try:
            normal = normalize_reference(ref)
        except ValueError as exc:
            raise ReconcileError(str(exc)) from None
        image = ImageSource(key=ref, kind="ref", identity=f"ref:{normal}", ref=normal,
                            pull="always")
        self.layout.make_dirs()
        return self.images.ensure(image, progress).digest

    @edge("remove image", image=True)
    def remove_image(self, digest: str) -> None:
        self.images.remove(digest)

    @edge("prune images", image=True)
    def prune_images(self, keep: frozenset[str]) -> list[str]:
        return list(self.images.prune(set(keep)))

    @edge("host facts")
    def host_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        try:
            mode = hostinfo.cgroup_mode()
            runtime = hostinfo.choose_runtime(mode, hostinfo.find_runtimes())
            facts.update(cgroups=mode, runtime=f"{runtime.name} ({runtime.path})")
            if runtime.warning:
                facts["runtime_warning"] = runtime.warning
        except ReconcileError as err:
            facts["runtime_error"] = str(err)
        facts["nofile_hard_limit"] = rlimits.host_hard_limit("nofile")
        facts["host_changes"] = host_changes(Path(self.layout.root))
        return facts
