"""The native driver's half of the contract that is not container lifecycle: health probes,
the death event stream, and what operators' commands ask (pause, logs, exec, stats,
inspect, the image store, host facts). NativeDriver inherits it; kept apart so that each
file stays short."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.drivers.native.container.state import (
    ContainerPaths,
    StateLayout,
    load_record,
    read_json,
)
from reconciler.drivers.native.edge import edge, guarded
from reconciler.model.errors import DriverError, NotFound, ReconcileError
from reconciler.support.pids import process_alive

# Each command's helpers (probes, the death watch and its inotify fd, logs, stats, host
# facts) are imported by that command: a no-op apply, which only observes, pays for none.
MONITOR_FINISH = 3.0  # s: after the exit record, runc delete plus the drain (bounded to 2 s)

if TYPE_CHECKING:
    from reconciler.drivers.base import (
        ContainerStats,
        DriverEvent,
        ExecRequest,
        ImageInfo,
        LogLine,
        Progress,
        Subscription,
    )
    from reconciler.drivers.native.container.cgroups import Cgroups
    from reconciler.drivers.native.container.runtime import Runc, RuncState
    from reconciler.drivers.native.library import ImageLibrary
    from reconciler.drivers.native.network.manager import NetworkManager
    from reconciler.model.build import BuildRequest, BuildResult
    from reconciler.model.desired import Healthcheck
    from reconciler.model.observed import ObservedContainer


class NativeOperations:
    layout: StateLayout

    @property
    def images(self) -> ImageLibrary:
        raise NotImplementedError  # NativeDriver's

    @property
    def network(self) -> NetworkManager:
        raise NotImplementedError  # NativeDriver's

    @property
    def runc(self) -> Runc:
        raise NotImplementedError  # NativeDriver's

    @property
    def cgroups(self) -> Cgroups:
        raise NotImplementedError  # NativeDriver's

    # -- what convergence needs besides the lifecycle --

    @edge("health probe")
    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        if container.pid is None:
            return False
        if check.kind == "exec":
            import subprocess  # here: most commands of this driver run no program

            argv = self.runc.exec_argv(container.name, list(check.exec), False, (), None, None)
            try:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, timeout=check.timeout,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired):
                return False
            return done.returncode == 0
        from reconciler.drivers import probes

        return probes.netns_probe(container.pid, check)

    @edge("event stream")
    def watch(self, on_event: Callable[[DriverEvent], None]) -> Subscription:
        from reconciler.drivers.native.deaths import DeathWatch

        return DeathWatch(self.layout.containers, on_event).start()

    # -- operators' commands --

    @edge("inspect")
    def inspect(self, name: str) -> dict[str, Any]:
        """The container's netns links and addresses as the kernel reports them."""
        return {"network": self.network.details(name)}

    @edge("list images", image=True)
    def list_images(self) -> list[ImageInfo]:
        from reconciler.drivers.base import ImageInfo

        return [ImageInfo(r.digest, r.identity, r.size, len(r.layers))
                for r in self.images.list()]

    @edge("pull", image=True)
    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        from reconciler.model.desired import ImageSource
        from reconciler.model.reference import normalize_reference

        try:
            normal = normalize_reference(ref)
        except ValueError as exc:
            raise ReconcileError(str(exc)) from None
        image = ImageSource(key=ref, kind="ref", identity=f"ref:{normal}", ref=normal,
                            pull="always")
        self.layout.make_dirs()
        return self.images.ensure(image, progress).digest

    @edge("push", image=True)
    def push_image(self, ref: str, source: str | None = None,
                   progress: Progress | None = None) -> str:  # fmt: skip
        from reconciler.drivers.native.registry.push import push_image

        self.layout.make_dirs()
        return push_image(self.images, ref, source or ref, self.images.registry, progress)

    @edge("tag", image=True)
    def tag_image(self, source: str, ref: str) -> str:
        from reconciler.drivers.images.refs import local_digest
        from reconciler.model.reference import normalize_reference

        try:
            normal = normalize_reference(ref)
        except ValueError as exc:
            raise ReconcileError(str(exc)) from None
        self.layout.make_dirs()
        digest = local_digest(self.images.identities(), source)
        self.images.tag(f"ref:{normal}", digest)
        return digest

    @edge("build", image=True)
    def build_dockerfile(self, request: BuildRequest, tags: list[str],
                         report: Callable[[str], None]) -> BuildResult:  # fmt: skip
        """`images build`: the Dockerfile built, tagged with `tags`; see dfbuild.py."""
        from reconciler.drivers.native.dfbuild import build_dockerfile

        self.layout.make_dirs()
        return build_dockerfile(self.images, self.images.ensure, lambda: self.runc,
                                self.layout.root / "build", request, tags, report)  # fmt: skip

    @edge("remove image", image=True)
    def remove_image(self, digest: str) -> None:
        self.images.remove(digest)

    @edge("prune images", image=True)
    def prune_images(self, keep: frozenset[str]) -> list[str]:
        return list(self.images.prune(set(keep)))

    @edge("host facts")
    def host_facts(self) -> dict[str, Any]:
        from reconciler.drivers.native import hostinfo
        from reconciler.drivers.native.network.hostfacts import host_changes
        from reconciler.support import rlimits

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
        init = hostinfo.find_init()
        if init:
            facts["init"] = init
        else:
            facts["init_error"] = f"`init: true` containers cannot be made: {hostinfo.INIT_MISSING}"
        facts["host_changes"] = host_changes(Path(self.layout.root))
        return facts

    # -- pause, logs, exec, stats --

    @edge("pause")
    def pause(self, name: str) -> None:
        self._existing(name)
        self.runc.pause(name)

    @edge("unpause")
    def unpause(self, name: str) -> None:
        self._existing(name)
        self.runc.resume(name)

    @edge("logs")
    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]:
        from reconciler.drivers.native.container.logs import read_logs

        paths = self._existing(name)
        # Follow until the monitor is gone: it drains the pipes after recording the exit.
        lines = read_logs(paths.log_file, tail, since, follow, lambda: self._monitor_alive(paths))
        return guarded(name, "logs", lines)  # read while consumed: convert errors then too

    @edge("exec")
    def exec(self, name: str, request: ExecRequest) -> int:
        paths = self._existing(name)
        state = self._runc_state(name)
        if state is None or state.status != "running":
            raise DriverError(name, "cannot exec: container is not running")
        user = self._exec_user(paths, request.user) if request.user else None
        argv = self.runc.exec_argv(
            name, request.argv, request.tty, request.env, user, request.workdir
        )
        import subprocess

        stdin = None if (request.interactive or request.tty) else subprocess.DEVNULL
        try:
            return subprocess.run(argv, stdin=stdin, check=False).returncode
        except OSError as e:
            raise DriverError(name, f"runc exec: {e}") from e

    def _exec_user(self, paths: ContainerPaths, user: str) -> str:
        """runc exec takes numeric ids: resolve names against the image, as create does."""
        record = load_record(paths)
        image = self.images.get(record.spec.image.identity) if record else None
        layers = [str(p) for p in reversed(image.layers)] if image else []
        try:
            from reconciler.drivers.native.container import users

            resolved = users.resolve_user(user, layers)
        except ReconcileError as e:
            raise DriverError(paths.root.name, str(e)) from e
        return f"{resolved.uid}:{resolved.gid}"

    @edge("stats")
    def stats(self, name: str) -> ContainerStats:
        from reconciler.drivers.native.container.cgroups import sample_stats

        self._existing(name)
        return sample_stats(self.cgroups, name)

    # -- helpers --

    def _existing(self, name: str) -> ContainerPaths:
        paths = self.layout.container(name)
        if not paths.root.is_dir():
            raise NotFound(name, "no such container")
        return paths

    def _runc_state(self, name: str) -> RuncState | None:
        """What `runc state` would say, from our own files when they decide it (one runc
        process less for every stop, remove and restart): a live init whose parent is its
        live monitor is up (created before start(), paused when frozen); an exit record
        with its monitor gone is stopped. Anything else is asked of runc."""
        from reconciler.drivers.native.container.observe import live_child_of_monitor
        from reconciler.drivers.native.container.runtime import RuncState

        paths = self.layout.container(name)
        if paths.exit.exists():
            # A monitor that recorded the exit is deleting runc's state and draining the
            # pipes (milliseconds; bounded): wait for it rather than race it with `runc state`.
            if self._monitor_gone_within(paths, MONITOR_FINISH):
                return RuncState(name, 0, "stopped", str(paths.bundle))
        else:
            pid = live_child_of_monitor(paths)
            if pid is not None:
                started = read_json(paths.started)
                if not (isinstance(started, dict) and started.get("pid") == pid):
                    status = "created"
                elif self.cgroups.freezer_state(name) in ("FROZEN", "FREEZING"):
                    status = "paused"
                else:
                    status = "running"
                return RuncState(name, pid, status, str(paths.bundle))
        try:
            return self.runc.state(name)
        except NotFound:
            return None

    def _monitor_gone_within(self, paths: ContainerPaths, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._monitor_alive(paths):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _monitor_alive(self, paths: ContainerPaths) -> bool:
        pid = read_json(paths.monitor_pid)
        return isinstance(pid, int) and process_alive(pid)
