"""The docker driver's half of the contract that is not lifecycle: health probes, the
event stream, and operators' commands (pause, logs, exec, stats, inspect, images, facts).

Probes: exec checks run through the engine's exec; tcp/http checks join the container's
network namespace from this host (drivers/probes.py, as the native driver does) and
connect to 127.0.0.1:port there, so they work for every network mode; when the
container's process is not visible here (a remote engine), they connect to its address
on its bridge instead.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from reconciler.drivers.base import (
    ContainerStats,
    DriverEvent,
    ExecRequest,
    ImageInfo,
    LogLine,
    Progress,
    Subscription,
)
from reconciler.drivers.docker.client import engine_errors
from reconciler.drivers.docker.engine_api import EngineAPI, path_of
from reconciler.drivers.docker.images import EngineImages
from reconciler.drivers.docker.mapping import parse_time
from reconciler.model.desired import Healthcheck
from reconciler.model.errors import DriverError, ReconcileError
from reconciler.model.observed import ObservedContainer
from reconciler.model.reference import normalize_reference

if TYPE_CHECKING:  # only in signatures: `down` and `apply` need no build model
    from reconciler.model.build import BuildRequest, BuildResult

_END = object()


class DockerOperations:
    host: str

    @property
    def engine(self) -> EngineAPI:
        raise NotImplementedError  # DockerDriver's: the JSON client

    @property
    def api(self) -> Any:
        raise NotImplementedError  # DockerDriver's: the docker SDK, for streams

    @property
    def images(self) -> EngineImages:
        raise NotImplementedError

    def _owned(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    # -- what convergence needs besides the lifecycle --

    def probe(self, container: ObservedContainer, check: Healthcheck) -> bool:
        from reconciler.drivers import probes  # ctypes (~50 ms): only the loop probes

        if container.pid is None:
            return False
        if check.kind == "exec":
            try:
                return self._exec_quiet(container.name, list(check.exec)) == 0
            except ReconcileError:
                return False
        if os.path.exists(f"/proc/{container.pid}/ns/net"):
            return probes.netns_probe(container.pid, check)
        # A remote engine: its processes are not ours to enter; its bridge address is.
        return bool(container.addresses) and probes.connect_probe(check, container.addresses[0])

    def _exec_quiet(self, name: str, argv: list[str]) -> int:
        with engine_errors(name, host=self.host):
            created = self.api.exec_create(name, argv, stdout=False, stderr=False)
            self.api.exec_start(created["Id"])
            return int(self.api.exec_inspect(created["Id"]).get("ExitCode") or 0)

    def watch(self, on_event: Callable[[DriverEvent], None]) -> Subscription:
        from reconciler.drivers.docker.events import EngineEvents

        return EngineEvents(self.api, on_event).start()

    # -- operators' commands --

    def pause(self, name: str) -> None:
        info = self._owned(name)
        with engine_errors(name, host=self.host):
            self.engine.status("POST", f"/containers/{info['Id']}/pause")

    def unpause(self, name: str) -> None:
        info = self._owned(name)
        with engine_errors(name, host=self.host):
            self.engine.status("POST", f"/containers/{info['Id']}/unpause")

    def logs(
        self, name: str, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> Iterator[LogLine]:
        """Both streams, each read in a thread of its own (the engine's multiplexed stream
        loses which is which once the SDK decodes it), merged as they arrive; without
        `follow`, in time order."""
        info = self._owned(name)
        lines: queue.Queue[Any] = queue.Queue()
        readers = [threading.Thread(target=self._read_stream, daemon=True,
                                    args=(info["Id"], stream, follow, tail, since, lines))
                   for stream in ("stdout", "stderr")]
        for reader in readers:
            reader.start()
        merged = _merged(lines, len(readers), ordered=not follow)
        # Each stream had its own tail: keep the last `tail` of both together.
        return iter(list(merged)[-tail:] if tail and not follow else merged)

    def _read_stream(self, container_id: str, stream: str, follow: bool, tail: int | None,
                     since: float | None, out: queue.Queue[Any]) -> None:
        try:
            chunks = self.api.logs(container_id, stdout=stream == "stdout",
                                   stderr=stream == "stderr", stream=True, timestamps=True,
                                   follow=follow, tail="all" if tail is None else tail,
                                   since=since)
            pending = b""
            for chunk in chunks:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    out.put(_log_line(raw, stream))
            if pending:
                out.put(_log_line(pending, stream))
        except Exception as exc:  # the reader ends with the error; the merger raises it
            out.put(exc)
        finally:
            out.put(_END)

    def exec(self, name: str, request: ExecRequest) -> int:
        info = self._owned(name)
        if (info.get("State") or {}).get("Status") != "running":
            raise DriverError(name, "cannot exec: container is not running")
        if request.tty or request.interactive:
            return self._exec_terminal(name, request)
        env = [f"{k}={v}" for k, v in request.env] or None
        with engine_errors(name, host=self.host):
            created = self.api.exec_create(info["Id"], list(request.argv), user=request.user or "",
                                           environment=env, workdir=request.workdir)
            for out, err in self.api.exec_start(created["Id"], stream=True, demux=True):
                if out:
                    sys.stdout.buffer.write(out)
                    sys.stdout.flush()
                if err:
                    sys.stderr.buffer.write(err)
                    sys.stderr.flush()
            return int(self.api.exec_inspect(created["Id"]).get("ExitCode") or 0)

    def _exec_terminal(self, name: str, request: ExecRequest) -> int:
        """-i / -t: the docker CLI attaches the terminal (raw mode, resizes) far better
        than a reimplementation would."""
        import shutil
        import subprocess

        cli = shutil.which("docker")
        if cli is None:
            raise DriverError(name, "exec -i/-t through the docker driver needs the docker CLI")
        argv = [cli, "-H", self.host, "exec"]
        argv += ["-i"] if request.interactive else []
        argv += ["-t"] if request.tty else []
        argv += ["-u", request.user] if request.user else []
        argv += ["-w", request.workdir] if request.workdir else []
        for key, value in request.env:
            argv += ["-e", f"{key}={value}"]
        return subprocess.run([*argv, name, *request.argv], check=False).returncode

    def stats(self, name: str) -> ContainerStats:
        info = self._owned(name)
        with engine_errors(name, host=self.host):
            raw = self.engine.call("GET", f"/containers/{info['Id']}/stats", {"stream": False})
        cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
        used = _delta(cpu, pre, "cpu_usage", "total_usage")
        system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
        cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage")
                                              or [1])
        percent = used / system * cpus * 100.0 if system > 0 and used > 0 else 0.0
        memory = raw.get("memory_stats") or {}
        limit = memory.get("limit")
        host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return ContainerStats(
            name=name, cpu_percent=round(percent, 2),
            memory_usage=int(memory.get("usage") or 0),
            memory_limit=int(limit) if limit and int(limit) < host_memory else None,
            pids=int((raw.get("pids_stats") or {}).get("current") or 0),
        )  # fmt: skip

    def inspect(self, name: str) -> dict[str, Any]:
        info = self._owned(name)
        settings = info.get("NetworkSettings") or {}
        return {"engine": {
            "id": info.get("Id"), "image": info.get("Image"),
            "networks": {net: {"ip": v.get("IPAddress"), "mac": v.get("MacAddress"),
                               "aliases": v.get("Aliases")}
                         for net, v in (settings.get("Networks") or {}).items()},
            "ports": settings.get("Ports"),
            "host_config": {k: (info.get("HostConfig") or {}).get(k) for k in (
                "NetworkMode", "Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpusetCpus",
                "PidsLimit", "Ulimits", "CapAdd", "CapDrop", "ReadonlyRootfs",
                "RestartPolicy")},
        }}  # fmt: skip

    def list_images(self) -> list[ImageInfo]:
        return self.images.infos()

    def pull_image(self, ref: str, progress: Progress | None = None) -> str:
        try:
            normal = normalize_reference(ref)
        except ValueError as exc:
            raise ReconcileError(str(exc)) from None
        return self.images.pull(normal, ref, progress)

    def push_image(self, ref: str, source: str | None = None,
                   progress: Progress | None = None) -> str:  # fmt: skip
        from reconciler.drivers.docker import push

        pushed = push.push(self.engine, self.api, self.host, ref, source, progress)
        self.images.refresh()
        return pushed

    def tag_image(self, source: str, ref: str) -> str:
        from reconciler.drivers.docker import push

        parsed = push.tag(self.engine, self.host, source, ref)
        self.images.refresh()
        with engine_errors(ref, image=True, host=self.host):
            info = self.engine.call("GET", f"/images/{path_of(str(parsed))}/json")
        return str(info.get("Id", ""))

    def build_dockerfile(self, request: BuildRequest, tags: list[str],
                         report: Callable[[str], None]) -> BuildResult:  # fmt: skip
        raise ReconcileError("images build: the docker driver does not build Dockerfiles; "
                             "use `docker build`, or `reconcile --driver native images build`")

    def remove_image(self, digest: str) -> None:
        self.images.remove(digest)

    def prune_images(self, keep: frozenset[str]) -> list[str]:
        return self.images.prune(keep)

    def host_facts(self) -> dict[str, Any]:
        with engine_errors("engine", host=self.host):
            info = self.engine.call("GET", "/info")
            version = self.engine.call("GET", "/version")
        return {
            "engine": f"Docker Engine {version.get('Version')} at {self.host}",
            "api_version": version.get("ApiVersion"),
            "storage_driver": info.get("Driver"),
            "cgroup_driver": info.get("CgroupDriver"),
            "cgroups": f"v{info.get('CgroupVersion', '?')}",
            "runtime": info.get("DefaultRuntime"),
            "kernel": info.get("KernelVersion"),
        }


def _delta(now: dict[str, Any], before: dict[str, Any], group: str, key: str) -> int:
    return int((now.get(group) or {}).get(key) or 0) - int((before.get(group) or {}).get(key)
                                                           or 0)


def _log_line(raw: bytes, stream: str) -> LogLine:
    stamp, _, text = raw.decode("utf-8", "replace").partition(" ")
    return LogLine(parse_time(stamp) or 0.0, stream, text)


def _merged(lines: queue.Queue[Any], readers: int, ordered: bool) -> Iterator[LogLine]:
    done, held = 0, []
    while done < readers:
        item = lines.get()
        if item is _END:
            done += 1
        elif isinstance(item, Exception):
            with engine_errors("logs"):
                raise item
        elif ordered:
            held.append(item)
        else:
            yield item
    yield from sorted(held, key=lambda line: line.time)
