"""DockerDriver: reconcile's containers as Docker Engine containers.

Lifecycle and observe live here; what it remembers of containers (ids, stop settings,
start counts) in known.py, volumes and the per-stack networks in resources.py, images in
images.py, the rest of the contract (probes, events, logs, exec, stats, facts) in
operations.py. docs/docker.md has the mapping table and the choices. The engine is reached
lazily: a driver that is only constructed costs nothing and needs no engine.

Round trips are the cost here (the engine does the work), so the driver makes only those
it needs: observe lists the stack's containers in one call and inspects them concurrently;
it remembers the id and stop settings of every container of ours it saw or made, so
start/stop/kill/remove act on that id with no ownership inspect first; a create is one
call (a name clash is learnt from its 409); a removal is one forced DELETE when the stop
signal is SIGKILL or the grace period 0, else the engine's stop and then the DELETE.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reconciler.drivers.base import Progress
from reconciler.drivers.docker import client as engine_client
from reconciler.drivers.docker import loopback
from reconciler.drivers.docker.client import engine_errors
from reconciler.drivers.docker.engine_api import EngineAPI, EngineHTTPError, path_of
from reconciler.drivers.docker.images import EngineImages
from reconciler.drivers.docker.known import Known, StartCounts, clash, known_from, known_of
from reconciler.drivers.docker.mapping import ETC_LABEL, container_labels, create_body, to_observed
from reconciler.drivers.docker.operations import DockerOperations
from reconciler.drivers.docker.resources import StackResources
from reconciler.model import labels as labelkeys
from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, VolumeSpec
from reconciler.model.errors import NotFound
from reconciler.model.observed import Observed, ObservedContainer

DEFAULT_STATE_DIR = Path("/var/lib/reconcile")
# The engine runs containers' creates, starts and removals concurrently, and the client
# mostly waits on it: as Compose v2 does, the executor runs many at once (issue 12's bench).
PARALLELISM = 16
T = TypeVar("T")


class DockerDriver(DockerOperations):
    name = "docker"
    parallelism = PARALLELISM

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, host: str | None = None) -> None:
        self.root = Path(state_dir) / "docker"
        self.host = host or engine_client.engine_host()
        self._engine: EngineAPI | None = None
        self._sdk: Any = None
        self._images: EngineImages | None = None
        self._connect_lock = threading.Lock()
        self._known: dict[str, Known] = {}
        self.starts = StartCounts(self.root)
        self.resources = StackResources(lambda: self.engine, self.host)
        self.etc = loopback.EtcFolders(self.root)
        self._sees_our_files: bool | None = None  # the engine's (loopback.shares_files)

    @property
    def engine(self) -> EngineAPI:
        """The JSON client (engine_api.py) every convergence call uses."""
        if self._engine is None:
            with self._connect_lock:
                if self._engine is None:
                    self._engine = engine_client.connect(self.host)
        return self._engine

    @property
    def api(self) -> Any:
        """The docker SDK's APIClient, for what streams (imported on first use)."""
        if self._sdk is None:
            _ = self.engine  # reachable and recent enough, with our error messages
            with self._connect_lock:
                if self._sdk is None:
                    self._sdk = engine_client.sdk(self.host)
        return self._sdk

    @property
    def images(self) -> EngineImages:
        if self._images is None:
            self._images = EngineImages(self.engine, lambda: self.api, self.root, self.host)
        return self._images

    def _errors(self, target: str) -> Any:
        return engine_errors(target, host=self.host)

    # -- observe --

    def observe(self, stacks: frozenset[str] | None = None,
                names: frozenset[str] | None = None) -> Observed:
        self.images.refresh()
        # One call after another, from this thread: each is answered in well under a
        # millisecond, less than a thread of their own waits for the interpreter's lock.
        found_images = self.images.identities()
        found_volumes = self.resources.volume_names(stacks)
        # The list has labels and state but no pid, start/finish times, exit code or
        # OOM flag, which the planner, the loop's health checks and saved plans need.
        listed = [s for s in self._list(stacks) if names is None
                  or any(n.lstrip("/") in names for n in s.get("Names") or ())]
        infos = self._inspect_all([s["Id"] for s in listed])
        found: list[ObservedContainer] = []
        members: dict[str, set[str]] = {}
        folders: set[tuple[str, str]] = set()
        for info in infos:
            if info is None or not labelkeys.is_owned((info.get("Config") or {}).get("Labels")
                                                      or {}):
                continue
            seen = to_observed(info, max(0, self.starts.get(info["Id"]) - 1))
            known = self._remember(seen.name, info)
            if known.private:
                members.setdefault(known.stack, set()).add(seen.name)
            if known.etc:
                folders.add((known.stack, known.etc))
            found.append(seen)
        self.resources.seen(stacks if stacks is not None else members, members)
        if names is None:  # every container of these stacks was seen
            self.etc.sweep(set(stacks) if stacks is not None else None, folders)
        found.sort(key=lambda c: c.name)
        return Observed(tuple(found), found_images, found_volumes)

    def _list(self, stacks: frozenset[str] | None) -> list[dict[str, Any]]:
        if stacks is not None and not stacks:
            return []
        one = stacks is not None and len(stacks) == 1
        selector = f"{labelkeys.STACK}={next(iter(stacks))}" if one and stacks else labelkeys.STACK
        with self._errors("observe"):
            listed = self.engine.call("GET", "/containers/json", {
                "all": True, "filters": {"label": [selector]}}) or []
        return [s for s in listed
                if stacks is None or (s.get("Labels") or {}).get(labelkeys.STACK) in stacks]

    def _inspect_all(self, ids: list[str]) -> list[dict[str, Any] | None]:
        """The inspect of each id (None: gone since the list), all in flight at once."""
        answers = self.engine.get_many([f"/containers/{path_of(i)}/json" for i in ids])
        infos: list[dict[str, Any] | None] = []
        for container_id, (status, doc) in zip(ids, answers, strict=True):
            if status >= 400 and status != 404:
                with self._errors(container_id):
                    raise EngineHTTPError(status, str(doc))
            infos.append(doc if status < 400 else None)
        return infos

    def _inspect(self, name: str) -> dict[str, Any] | None:
        with self._errors(name):
            try:
                info: dict[str, Any] = self.engine.call("GET", f"/containers/{path_of(name)}/json")
            except EngineHTTPError as exc:
                if exc.status == 404:
                    return None
                raise
        return info

    def _remember(self, name: str, info: dict[str, Any]) -> Known:
        known = self._known[name] = known_of(info)
        return known

    def _resolve(self, name: str) -> Known:
        """The container `name` if it exists and is ours (one inspect); NotFound otherwise."""
        info = self._inspect(name)
        labels = (info or {}).get("Config", {}).get("Labels") or {}
        if info is None or not labelkeys.is_owned(labels):
            raise NotFound(name, "no such container (of reconcile's)")
        return self._remember(name, info)

    def _owned(self, name: str) -> dict[str, Any]:
        """The inspect of `name` if it exists and is ours (operators' commands)."""
        info = self._inspect(name)
        labels = (info or {}).get("Config", {}).get("Labels") or {}
        if info is None or not labelkeys.is_owned(labels):
            raise NotFound(name, "no such container (of reconcile's)")
        self._remember(name, info)
        return info

    def _act(self, name: str, action: Callable[[Known], T]) -> T:
        """`action` on the container `name` by the id this driver knows, else (or when that
        id is gone: replaced by another process) by the id an inspect finds."""
        with self._errors(name):
            known = self._known.get(name)
            if known is not None:
                try:
                    return action(known)
                except EngineHTTPError as exc:
                    if exc.status != 404:
                        raise
                    self._known.pop(name, None)
            return action(self._resolve(name))

    # -- images and volumes --

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        return self.images.ensure(image, progress)

    def create_volume(self, volume: VolumeSpec) -> None:
        self.resources.create_volume(volume)

    def remove_volume(self, volume: VolumeSpec) -> None:
        self.resources.remove_volume(volume)

    # -- create / start / stop / kill / remove --

    def create(self, spec: ContainerSpec) -> None:
        ref = self.images.engine_ref(spec.image)
        digest = self.images.digest(spec.image)
        check = spec.healthcheck or self._image_check(spec.image, ref)
        body = create_body(spec, ref, container_labels(spec, digest, check))
        token = self._loopback(spec, body)
        try:
            created = self._create(spec, body)
        except BaseException:
            if spec.network == "private":  # a network made for it alone does not stay
                self.resources.left(spec.stack, spec.name)
            if token:
                self.etc.remove(spec.stack, token)
            raise
        self._known[spec.name] = known_from(str(created["Id"]), spec, token)

    def _loopback(self, spec: ContainerSpec, body: dict[str, Any]) -> str:
        """`network: none` with no libnetwork sandbox when the engine sees our files
        (loopback.py): `body` gets NetworkDisabled, the label and the binds of a new /etc
        folder, whose token this returns ("" otherwise)."""
        if not loopback.wanted(spec):
            return ""
        if self._sees_our_files is None:
            self._sees_our_files = loopback.shares_files(self.engine.pid)
        if not self._sees_our_files:
            return ""
        token = self.etc.make(spec)
        fields, binds = loopback.create_fields(spec, self.etc.path(spec.stack, token))
        body.update(fields)
        body["Labels"][ETC_LABEL] = token
        host = body["HostConfig"]
        host["Mounts"] = [*host.get("Mounts", ()), *binds]
        return token

    def _create(self, spec: ContainerSpec, body: dict[str, Any]) -> dict[str, Any]:
        with self._errors(spec.name):
            for attempt in (1, 2):
                if spec.network == "private":
                    self.resources.ensure_network(spec)
                try:
                    created: dict[str, Any] = self.engine.call(
                        "POST", "/containers/create", {"name": spec.name}, body)
                    return created
                except EngineHTTPError as exc:
                    if exc.status == 409:
                        raise clash(spec.name, self._inspect(spec.name)) from None
                    if exc.status != 404 or spec.network != "private" or attempt == 2:
                        raise
                    # its network was removed behind our back (another process's down)
                    self.resources.forget_network(spec.stack)
        raise AssertionError("unreachable")  # pragma: no cover

    def _image_check(self, image: ImageSource, ref: str) -> Healthcheck | None:
        raw = self.images.config(ref).get("Healthcheck")
        if not raw:
            return None
        from reconciler.drivers.images.defaults import image_healthcheck

        return image_healthcheck(raw, image.key)

    def start(self, name: str) -> None:
        def start(known: Known) -> str | None:
            if known.etc:
                self.etc.ensure(known.stack, known.etc, known.hostname, known.dns)
            try:
                status = self.engine.status("POST", f"/containers/{known.id}/start")
            except EngineHTTPError as exc:
                if exc.status == 409 and "paused" in exc.message.lower():
                    return None  # a paused container counts as started, as before
                raise
            return known.id if status != 304 else None  # 304: it was running already

        started = self._act(name, start)
        if started is not None:
            self.starts.count(started)

    def stop(self, name: str, timeout: float | None = None) -> None:
        query = None if timeout is None else {"t": max(0, int(timeout))}
        self._act(name, lambda k: self.engine.status(
            "POST", f"/containers/{k.id}/stop", query,
            wait=k.grace if timeout is None else max(0.0, timeout)))

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._act(name, lambda k: self.engine.status(
            "POST", f"/containers/{k.id}/kill", {"signal": signal}))

    def remove(self, name: str) -> None:
        with self._errors(name):
            known = self._known.get(name)
            if known is None or not self._remove_id(known):
                info = self._inspect(name)
                if info is None:
                    self._known.pop(name, None)
                    if known is not None and known.etc:  # removed behind our back
                        self.etc.remove(known.stack, known.etc)
                    return
                if not labelkeys.is_owned((info.get("Config") or {}).get("Labels") or {}):
                    raise clash(name, info)
                known = self._remember(name, info)
                self._remove_id(known)
        self._known.pop(name, None)
        self.starts.forget(known.id)
        if known.etc:
            self.etc.remove(known.stack, known.etc)
        if known.private:
            self.resources.left(known.stack, name)

    def _remove_id(self, known: Known) -> bool:
        """Stop (with the container's own signal and grace period) and remove; a forced
        removal alone when the stop would be a SIGKILL anyway. False: no such id."""
        try:
            if known.graceful:
                self.engine.status("POST", f"/containers/{known.id}/stop", wait=known.grace)
            self.engine.status("DELETE", f"/containers/{known.id}", {"v": True, "force": True})
        except EngineHTTPError as exc:
            if exc.status != 404:
                raise
            return False
        return True
