"""NativeDriver: containers run by runc straight on the kernel, no daemon.

Each container gets a small monitor process (monitor.py, forked by the monitor zygote,
zygote.py) that runs `runc run -d`, holds its stdio, writes its logs and records its exit,
so exits are recorded even when no reconcile process runs. Everything else is a short runc
call or a file read.
docs/native.md describes the state dir, the monitor and the lifecycle.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.drivers.images.refs import read_identities
from reconciler.drivers.native.container.state import (
    DIR_MODE,
    ContainerPaths,
    ContainerRecord,
    StateLayout,
    load_record,
    read_json,
    read_record,
    write_record,
)
from reconciler.drivers.native.container.volumes import VolumeStore
from reconciler.drivers.native.edge import backend_error_types, describe, edge
from reconciler.drivers.native.operations import NativeOperations
from reconciler.model.errors import DriverError, ImageError, NotFound, ReconcileError
from reconciler.support.pids import process_alive

# A no-op apply only observes: what only making, changing or removing containers needs
# (runc, cgroups, the image library, networking, bundles) is imported on first use, so
# that observe stays a scan of the state dir (tests/unit/cli/test_noop_imports.py).
# `images build` makes the driver for its store alone: the model (desired.py's dataclasses)
# and the observe code are imported by the methods that use them.
if TYPE_CHECKING:
    from reconciler.drivers.base import Progress
    from reconciler.drivers.images.store import ImageRecord
    from reconciler.drivers.native.container.cgroups import Cgroups
    from reconciler.drivers.native.container.launcher import Launcher
    from reconciler.drivers.native.container.runtime import Runc, RuncState
    from reconciler.drivers.native.container.secretfs import SecretFS
    from reconciler.drivers.native.library import ImageLibrary
    from reconciler.drivers.native.network.manager import NetworkManager
    from reconciler.drivers.native.registry.options import RegistryOptions
    from reconciler.model.desired import ContainerSpec, ImageSource, VolumeSpec
    from reconciler.model.observed import Observed

DEFAULT_STATE_DIR = Path("/var/lib/reconcile")
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_MAX_FILES = 3
KILL_WAIT = 10.0  # after SIGKILL: the kernel needs a moment, the monitor a drain
POLL = 0.05
MONITOR_POLL = 0.005  # a restart waits for the dead run's monitor: milliseconds count


class NativeDriver(NativeOperations):
    name = "native"

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        runtime: str | None = None,
        log_max_bytes: int = LOG_MAX_BYTES,
        log_max_files: int = LOG_MAX_FILES,
        registry: RegistryOptions | None = None,
    ) -> None:
        self.layout = StateLayout(Path(state_dir))
        self.volumes = VolumeStore(self.layout.volumes)
        self.log_max_bytes = log_max_bytes
        self.log_max_files = log_max_files
        self._registry = registry
        self._runtime_override = runtime
        self._runc: Runc | None = None
        self._cgroups: Cgroups | None = None
        self._images: ImageLibrary | None = None
        self._network: NetworkManager | None = None
        self._secretfs: SecretFS | None = None
        self._launcher: Launcher | None = None

    # -- host facts and helpers, made on first use so that constructing the driver is free --

    @property
    def runc(self) -> Runc:
        if self._runc is None:
            from reconciler.drivers.native import hostinfo
            from reconciler.drivers.native.container.runtime import Runc

            override = self._runtime_override
            if override and os.path.isabs(override):
                path = override
            else:
                mode = hostinfo.cgroup_mode()
                choice = hostinfo.choose_runtime(mode, hostinfo.find_runtimes(), override)
                path = choice.path
            self._runc = Runc(path, self.layout.runc_root)
        return self._runc

    @property
    def launcher(self) -> Launcher:
        if self._launcher is None:
            from reconciler.drivers.native.container.cgroups import instance_id
            from reconciler.drivers.native.container.launcher import Launcher

            root = self.layout.root
            self._launcher = Launcher(instance_id(root), root / "monitor.lock",
                                      root / "monitor-zygote.err")
        return self._launcher

    @property
    def cgroups(self) -> Cgroups:
        if self._cgroups is None:
            from reconciler.drivers.native.container.cgroups import Cgroups, instance_id

            self._cgroups = Cgroups(instance_id(self.layout.root))
        return self._cgroups

    @property
    def images(self) -> ImageLibrary:
        """The store plus import, build and pull (making it creates the store's dirs)."""
        if self._images is None:
            from reconciler.drivers.native.library import ImageLibrary

            self._images = ImageLibrary(self.layout.images, self._registry,
                                        runc=lambda: self.runc)  # fmt: skip
        return self._images

    @property
    def network(self) -> NetworkManager:
        if self._network is None:
            from reconciler.drivers.native.network.manager import NetworkManager

            self._network = NetworkManager(self.layout.root, self.layout.containers)
        return self._network

    @property
    def secretfs(self) -> SecretFS:
        if self._secretfs is None:
            from reconciler.drivers.native.container.cgroups import instance_id
            from reconciler.drivers.native.container.secretfs import SecretFS

            self._secretfs = SecretFS(instance_id(self.layout.root))
        return self._secretfs

    # -- observe --

    @edge("observe")
    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        """Our own records first (the monitor is the container's parent, so a live child of
        a live monitor is a live container); `runc list` only for the undecided ones."""
        from reconciler.drivers.native.container.observe import (
            container_names,
            read_facts,
            to_observed,
        )
        from reconciler.model.observed import Observed

        facts = {}
        for name in container_names(self.layout.containers):
            if names is not None and name not in names:
                continue
            found = read_facts(self.layout.container(name), stacks, self._frozen)
            if found is not None:
                facts[name] = found
        undecided = [name for name, f in facts.items() if f.state is None]
        states = self.runc.list_states() if undecided else {}
        containers = tuple(
            to_observed(name, f, states.get(name), name in states) for name, f in facts.items()
        )
        records = {name: f.record for name, f in facts.items()}
        if any(r.network == "private" for r in records.values()):  # else no netlink at all
            from reconciler.drivers.native.network import hooks as network_hooks

            containers = network_hooks.annotate(self.network, containers, records)
        if any(r.spec_data.get("secret_env") or r.spec_data.get("secret_files")
               for r in records.values()):  # after a reboot: secrets gone, to re-make
            containers = self.secretfs.annotate(
                containers, {name: r.spec_data for name, r in records.items()})
        return Observed(
            containers=containers,
            images=read_identities(self.layout.images),  # refs.json; the store unopened
            volumes=self.volumes.names(),
        )

    def _frozen(self, name: str) -> bool:
        return self.cgroups.freezer_state(name) in ("FROZEN", "FREEZING")

    # -- images and volumes --

    @edge("ensure image", image=True)
    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        self.layout.make_dirs()
        return self.images.ensure(image, progress).digest

    @edge("create volume")
    def create_volume(self, volume: VolumeSpec) -> None:
        self.volumes.ensure(volume.full_name)

    @edge("remove volume")
    def remove_volume(self, volume: VolumeSpec) -> None:
        users_of = self._volume_users(volume)
        if users_of:
            raise DriverError(volume.full_name, f"volume in use by {', '.join(users_of)}")
        self.volumes.remove(volume.full_name)

    def _volume_users(self, volume: VolumeSpec) -> list[str]:
        from reconciler.drivers.native.container.observe import container_names

        found = []
        for name in container_names(self.layout.containers):
            record = read_record(self.layout.container(name))
            if record is None or record.stack != volume.stack:
                continue
            if any(m.type == "volume" and m.source == volume.name for m in record.mounts()):
                found.append(name)
        return found

    # -- create / start --

    @edge("create")
    def create(self, spec: ContainerSpec) -> None:
        # prepare (bundle, seccomp, users) is needed only to make containers: a plan that
        # only observes does not pay for importing it.
        from reconciler.drivers.images.defaults import with_image_defaults
        from reconciler.drivers.native.container.prepare import (
            ImageView,
            init_binary,
            prepare,
            resolve_mounts,
        )
        from reconciler.drivers.native.container.rerun import mark_bundle
        from reconciler.drivers.native.container.secretfs import blanked
        from reconciler.drivers.native.network import hooks as network_hooks
        from reconciler.model import hashing
        from reconciler.model import labels as labelkeys

        image = self._image_for(spec)
        original, spec = spec, with_image_defaults(spec, image.config or {})

        resolve_mounts(spec, self.volumes)  # a missing bind source fails before anything
        init_binary(spec)  # so does a missing tini (`init: true`)
        network_hooks.precheck(self.network, spec, self.layout.containers)  # ports in use
        self.runc  # noqa: B018 - RuntimeMissing before anything is made, too
        paths = self.layout.container(spec.name)
        if paths.root.exists():
            if load_record(paths) is not None:
                raise DriverError(spec.name, "container already exists")
            self._cleanup(spec.name)  # debris of a create killed before its record
        self.layout.make_dirs()
        try:
            paths.root.mkdir(mode=DIR_MODE)
            record = ContainerRecord(
                spec=blanked(spec),  # with the image's defaults: what stop and restart use
                hashed_fields=hashing.hashed_fields(original),
                labels=labelkeys.ownership_labels(original, image.digest),
                image_digest=image.digest,
                created_at=time.time(),
            )
            write_record(paths.record, record.to_json())
            if spec.secret_env or spec.secret_files:  # clear values: on a tmpfs only
                self.secretfs.place(paths, spec)
            netns, hosts = network_hooks.attach(self.network, spec)
            prepare(paths, self.secretfs.with_mounts(spec), ImageView(image.config, image.layers),
                    self.volumes, netns, hosts, self.cgroups.config_path(spec.name))
            mark_bundle(paths)  # a restart may keep this bundle (container/rerun.py)
            # No runc process yet: start() creates and starts in one (`runc run -d`).
            paths.prepared.touch()
        except BaseException as error:
            with contextlib.suppress(Exception):
                self._cleanup(spec.name)
            if isinstance(error, ReconcileError) or not isinstance(error, Exception):
                raise
            detail = describe(error) if isinstance(error, backend_error_types()) else error
            raise DriverError(spec.name, f"create failed: {detail}") from error

    def _image_for(self, spec: ContainerSpec) -> ImageRecord:
        image = self.images.get(spec.image.identity)
        if image is None:
            raise ImageError(spec.image.key, "image not present: ensure it first")
        return image

    def _launch_monitor(self, name: str, paths: ContainerPaths) -> None:
        """Have the zygote fork the monitor, which runs `runc run -d` (created and started
        by one runc process); it returns once runc finished."""
        from reconciler.drivers.native.container.launcher import LaunchError

        runc = self.runc
        argv = [
            str(paths.root), runc.binary, str(runc.root), name, "--run",
            "--log-max-bytes", str(self.log_max_bytes),
            "--log-max-files", str(self.log_max_files),
        ]  # fmt: skip
        for oom_file in self.cgroups.oom_files(name):
            argv += ["--oom-file", oom_file]
        try:
            self.launcher.launch(argv)
        except LaunchError as e:
            with contextlib.suppress(ReconcileError):  # whatever runc left of it
                runc.delete(name)
            raise DriverError(name, f"runc run failed: {e}") from e

    @edge("start")
    def start(self, name: str) -> None:
        paths = self._existing(name)
        if not (paths.prepared.exists() and not paths.monitor_pid.exists()):
            # Our files decide the state (no `runc state`) unless something is odd.
            state = self._runc_state(name)
            if state is not None and state.status in ("running", "paused", "pausing"):
                return
            if state is not None and state.status == "created":
                self._start_created(name)
                self._record_started(paths)
                return
            if state is None or state.status == "stopped":
                self._recreate(name, paths, state)
                return
        self._launch_monitor(name, paths)
        self._record_started(paths)

    def _start_created(self, name: str) -> None:
        """A live init that start() never recorded: `runc create`d by an older version
        (then `runc start` it), or `runc run -d` and killed before its record."""
        with contextlib.suppress(NotFound):
            if self.runc.state(name).status == "created":
                self.runc.start(name)

    def _record_started(self, paths: ContainerPaths) -> None:
        from reconciler.support import atomic

        previous = read_json(paths.started)
        count = int(previous.get("count", 0)) if isinstance(previous, dict) else 0
        started = {"started_at": time.time(), "count": count + 1, "pid": _read_pid(paths)}
        atomic.write_json(paths.started, started)
        paths.prepared.unlink(missing_ok=True)  # after the record: monitor.pid outranks it

    def _recreate(self, name: str, paths: ContainerPaths, state: RuncState | None) -> None:
        """Starting an exited container: runc cannot restart a stopped container, so the
        runtime side is made again from the same bundle and writable layer (the writes of
        the previous run survive, as with `docker start`). The bundle, mounts and network
        are kept when intact (container/rerun.py); the monitor deleted runc's state of the
        dead run after recording its exit, so usually no runc process runs but `run -d`."""
        record = load_record(paths)
        if record is None:
            raise DriverError(name, "container record is missing or damaged: remove it")
        self._wait_monitor_gone(paths)  # first: it deletes the runtime state on its way out
        if state is not None and self.runc.has_state(name):
            with contextlib.suppress(NotFound):  # "stopped" from our files: runc may agree
                self.runc.delete(name)
        for stale in (paths.exit, paths.monitor_pid, paths.container_pid):
            stale.unlink(missing_ok=True)
        spec = self.secretfs.restore(name, record.spec)
        if not self._kept_for_restart(paths, spec):
            self._prepare_again(paths, spec)
        paths.prepared.touch()  # cut short from here on: "created", not "dead"
        self._launch_monitor(name, paths)
        self._record_started(paths)

    def _kept_for_restart(self, paths: ContainerPaths, spec: ContainerSpec) -> bool:
        from reconciler.drivers.native.container import rerun

        if not rerun.bundle_kept(paths):
            return False
        if spec.network == "private" and not self.network.links_intact(spec.name, spec.stack):
            return False  # re-attached (repairs it) and prepared again
        rerun.refresh(paths, spec, self.volumes)
        return True

    def _prepare_again(self, paths: ContainerPaths, spec: ContainerSpec) -> None:
        from reconciler.drivers.native.container.prepare import ImageView, prepare
        from reconciler.drivers.native.container.rerun import mark_bundle
        from reconciler.drivers.native.network import hooks as network_hooks

        image = self._image_for(spec)
        netns, hosts = network_hooks.attach(self.network, spec)  # repairs drift too
        prepare(paths, spec, ImageView(image.config, image.layers), self.volumes, netns,
                hosts, self.cgroups.config_path(spec.name))  # fmt: skip
        mark_bundle(paths)

    # -- stop / kill / remove --

    @edge("stop")
    def stop(self, name: str, timeout: float | None = None) -> None:
        from reconciler.model.desired import STOP_GRACE_PERIOD, STOP_SIGNAL

        paths = self._existing(name)
        state = self._runc_state(name)
        if state is None or state.status not in ("running", "paused", "pausing"):
            return
        record = load_record(paths)
        spec = record.spec if record else None
        if timeout is None:
            timeout = spec.stop_grace_period if spec else STOP_GRACE_PERIOD
        with contextlib.suppress(DriverError):
            self.runc.kill(name, (spec.stop_signal if spec else None) or STOP_SIGNAL)
        if state.status != "running":
            with contextlib.suppress(DriverError):  # a frozen process cannot act on it
                self.runc.resume(name)
        if self._wait_exit(paths, state.pid, timeout):
            return
        with contextlib.suppress(DriverError):
            self.runc.kill(name, "SIGKILL", all_processes=True)
        if not self._wait_exit(paths, state.pid, KILL_WAIT):
            raise DriverError(name, "container did not exit after SIGKILL")

    def _wait_exit(self, paths: ContainerPaths, pid: int, timeout: float) -> bool:
        """Wait for the monitor's exit record (or, monitor gone, for the pid to die)."""
        deadline = time.monotonic() + timeout
        while True:
            if paths.exit.exists():
                return True
            if not process_alive(pid) and not self._monitor_alive(paths):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    @edge("kill")
    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._existing(name)
        self.runc.kill(name, signal)

    @edge("remove")
    def remove(self, name: str) -> None:
        paths = self.layout.container(name)
        if not paths.root.exists():
            return
        try:
            paths.removing.touch()
        except OSError as e:
            raise DriverError(name, f"cannot mark it for removal: {e.strerror}") from e
        state = self._runc_state(name)
        if state is not None and state.status in ("running", "paused", "pausing"):
            self.stop(name)
        self._cleanup(name)

    def _cleanup(self, name: str) -> None:
        """Remove every trace of `name`, whatever stage it reached: runc state, monitor,
        overlay mount, cgroups, the container dir. Safe to repeat."""
        from reconciler.drivers.native.container import rootfs

        paths = self.layout.container(name)
        exited = paths.exit.exists()
        if exited:  # its monitor deletes the runtime state on its way out
            self._wait_monitor_gone(paths)
        if not exited or self.runc.has_state(name):
            with contextlib.suppress(NotFound):
                self.runc.delete(name)
        self._wait_monitor_gone(paths)
        try:
            rootfs.unmount(paths.rootfs)
        except OSError as e:
            raise DriverError(name, f"cannot unmount the rootfs: {e}") from e
        busy = self.cgroups.remove(name)
        if busy:
            raise DriverError(name, f"cgroups still busy: {', '.join(map(str, busy))}")
        if rootfs.is_mounted(paths.rootfs):  # never rmtree through a live mount
            raise DriverError(name, f"{paths.rootfs} is still mounted")
        self.network.teardown(name)  # while the dir exists: a retry still finds the name
        self._remove_folder(paths)
        self.secretfs.remove(name)

    @staticmethod
    def _remove_folder(paths: ContainerPaths) -> None:
        """Everything but the record and the removal marker first, those two last: a removal
        cut short (kill -9) leaves a folder observe still sees (dead) and down finishes,
        never a folder without a record that nothing owns any more. Errors leave through
        the edge, naming the path."""
        from reconciler.support.trees import remove_tree

        if not paths.root.is_dir():
            return
        last = {paths.record.name, paths.removing.name}
        for entry in sorted(paths.root.iterdir()):
            if entry.name not in last:
                remove_tree(entry)
        remove_tree(paths.root)

    def _wait_monitor_gone(self, paths: ContainerPaths, timeout: float = 5.0) -> None:
        pid = read_json(paths.monitor_pid)
        if not isinstance(pid, int):
            return
        deadline = time.monotonic() + timeout
        while process_alive(pid):
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(MONITOR_POLL)


def _read_pid(paths: ContainerPaths) -> int | None:
    try:
        return int(paths.container_pid.read_text().strip())
    except (OSError, ValueError):
        return None
