"""DockerDriver: reconcile's containers as Docker Engine containers.

Lifecycle, observe, volumes and the per-stack networks live here; images in images.py,
the rest of the contract (probes, events, logs, exec, stats, facts) in operations.py.
docs/docker.md has the mapping table and the choices. The engine is reached lazily: a
driver that is only constructed costs nothing and needs no engine.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from reconciler.drivers.base import Progress
from reconciler.drivers.docker import client as engine
from reconciler.drivers.docker.client import engine_errors, not_found
from reconciler.drivers.docker.images import EngineImages
from reconciler.drivers.docker.mapping import (
    container_labels,
    create_args,
    host_config_args,
    network_name,
    to_observed,
    volume_name,
)
from reconciler.drivers.docker.operations import DockerOperations
from reconciler.drivers.images.defaults import image_healthcheck
from reconciler.model import labels as labelkeys
from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, VolumeSpec
from reconciler.model.errors import DriverError, NotFound
from reconciler.model.observed import Observed, ObservedContainer

DEFAULT_STATE_DIR = Path("/var/lib/reconcile")
VOLUME_LABEL = "io.reconcile.volume"


class DockerDriver(DockerOperations):
    name = "docker"

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, host: str | None = None) -> None:
        self.root = Path(state_dir) / "docker"
        self.host = host or engine.engine_host()
        self._api: Any = None
        self._images: EngineImages | None = None
        self._network_lock = threading.Lock()

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = engine.connect(self.host)
        return self._api

    @property
    def images(self) -> EngineImages:
        if self._images is None:
            self._images = EngineImages(self.api, self.root, self.host)
        return self._images

    def _errors(self, target: str) -> contextlib.AbstractContextManager[None]:
        return engine_errors(target, host=self.host)

    # -- observe --

    def observe(self, stacks: frozenset[str] | None = None) -> Observed:
        selectors = ([f"{labelkeys.STACK}={s}" for s in sorted(stacks)] if stacks is not None
                     else [labelkeys.STACK])
        found: list[ObservedContainer] = []
        for selector in selectors:
            with self._errors("observe"):
                listed = self.api.containers(all=True, filters={"label": selector})
            for summary in listed:
                seen = self._observe_one(summary["Id"])
                if seen is not None:
                    found.append(seen)
        found.sort(key=lambda c: c.name)
        return Observed(tuple(found), self.images.identities(), self._volume_names(stacks))

    def _observe_one(self, container_id: str) -> ObservedContainer | None:
        info = self._inspect(container_id)
        if info is None or not labelkeys.is_owned((info.get("Config") or {}).get("Labels") or {}):
            return None
        return to_observed(info, max(0, self._starts(container_id) - 1))

    def _inspect(self, name: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.api.inspect_container(name)
        except Exception as exc:
            if not_found(exc):
                return None
            with self._errors(name):
                raise
        return info

    def _owned(self, name: str) -> dict[str, Any]:
        """The container `name` if it exists and is ours; NotFound otherwise."""
        info = self._inspect(name)
        labels = (info or {}).get("Config", {}).get("Labels") or {}
        if info is None or not labelkeys.is_owned(labels):
            raise NotFound(name, "no such container (of reconcile's)")
        return info

    def _volume_names(self, stacks: frozenset[str] | None) -> frozenset[str]:
        with self._errors("volumes"):
            listed = self.api.volumes(filters={"label": labelkeys.STACK}).get("Volumes") or []
        return frozenset(v["Name"] for v in listed
                         if stacks is None or (v.get("Labels") or {}).get(labelkeys.STACK)
                         in stacks)

    # -- the loop's start count (the engine counts only its own restarts) --

    def _starts_file(self, container_id: str) -> Path:
        return self.root / "starts" / container_id

    def _starts(self, container_id: str) -> int:
        try:
            return int(self._starts_file(container_id).read_text())
        except (OSError, ValueError):
            return 0

    def _count_start(self, container_id: str) -> None:
        path = self._starts_file(container_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(str(self._starts(container_id) + 1))
        os.replace(tmp, path)

    # -- images and volumes --

    def ensure_image(self, image: ImageSource, progress: Progress | None = None) -> str:
        return self.images.ensure(image, progress)

    def create_volume(self, volume: VolumeSpec) -> None:
        name = volume_name(volume.stack, volume.name)
        with self._errors(name):
            existing = self._volume(name)
            if existing is not None:
                return self._check_ours(existing, name, "volume")
            self.api.create_volume(name, labels={labelkeys.STACK: volume.stack,
                                                 VOLUME_LABEL: volume.name})
        return None

    def _volume(self, name: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.api.inspect_volume(name)
        except Exception as exc:
            if not_found(exc):
                return None
            raise
        return info

    def _check_ours(self, info: dict[str, Any], name: str, kind: str) -> None:
        if labelkeys.STACK not in (info.get("Labels") or {}):
            raise DriverError(name, f"a {kind} of this name exists and is not reconcile's "
                                    f"(no {labelkeys.STACK} label): rename or remove it")

    def remove_volume(self, volume: VolumeSpec) -> None:
        name = volume_name(volume.stack, volume.name)
        with self._errors(name):
            existing = self._volume(name)
            if existing is None:
                return
            self._check_ours(existing, name, "volume")
            self.api.remove_volume(name)

    # -- networks --

    def _ensure_network(self, spec: ContainerSpec) -> str:
        name = network_name(spec.stack)
        with self._network_lock, self._errors(name):
            for net in self.api.networks(names=[name]):
                if net.get("Name") == name:
                    self._check_ours(net, name, "network")
                    return name
            ipam = _ipam(spec.subnet) if spec.subnet else None
            self.api.create_network(name, driver="bridge", check_duplicate=True, ipam=ipam,
                                    labels={labelkeys.STACK: spec.stack})
        return name

    def _drop_network_if_unused(self, stack: str) -> None:
        name = network_name(stack)
        with self._network_lock, self._errors(name):
            for net in self.api.networks(names=[name]):
                if net.get("Name") != name or labelkeys.STACK not in (net.get("Labels") or {}):
                    continue
                detail = self.api.inspect_network(net["Id"])
                if not detail.get("Containers"):
                    with contextlib.suppress(Exception):  # a create raced us: it stays
                        self.api.remove_network(net["Id"])

    # -- create / start / stop / kill / remove --

    def create(self, spec: ContainerSpec) -> None:
        ref = self.images.engine_ref(spec.image)
        digest = self.images.digest(spec.image)
        existing = self._inspect(spec.name)
        if existing is not None:
            raise _clash(spec.name, existing)
        check = spec.healthcheck or self._image_check(spec.image, ref)
        labels = container_labels(spec, digest, check)
        with self._errors(spec.name):
            networking = None
            if spec.network == "private":
                net = self._ensure_network(spec)
                networking = self.api.create_networking_config(
                    {net: self.api.create_endpoint_config(aliases=[spec.key])})
            host_config = self.api.create_host_config(**host_config_args(spec))
            self.api.create_container(**create_args(spec, ref, labels), host_config=host_config,
                                      networking_config=networking)

    def _image_check(self, image: ImageSource, ref: str) -> Healthcheck | None:
        raw = self.images.config(ref).get("Healthcheck")
        return image_healthcheck(raw, image.key) if raw else None

    def start(self, name: str) -> None:
        info = self._owned(name)
        if (info.get("State") or {}).get("Status") in ("running", "paused", "restarting"):
            return
        with self._errors(name):
            self.api.start(info["Id"])
        self._count_start(info["Id"])

    def stop(self, name: str, timeout: float | None = None) -> None:
        info = self._owned(name)
        if (info.get("State") or {}).get("Status") not in ("running", "paused", "restarting"):
            return
        with self._errors(name):
            self.api.stop(info["Id"], timeout=None if timeout is None else max(0, int(timeout)))

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        info = self._owned(name)
        with self._errors(name):
            self.api.kill(info["Id"], signal=signal)

    def remove(self, name: str) -> None:
        info = self._inspect(name)
        if info is None:
            return
        labels = (info.get("Config") or {}).get("Labels") or {}
        if not labelkeys.is_owned(labels):
            raise _clash(name, info)
        self.stop(name)
        with self._errors(name):
            try:
                self.api.remove_container(info["Id"], v=True, force=True)
            except Exception as exc:
                if not not_found(exc):
                    raise
        self._starts_file(info["Id"]).unlink(missing_ok=True)
        self._drop_network_if_unused(labels[labelkeys.STACK])


def _clash(name: str, info: dict[str, Any]) -> DriverError:
    labels = (info.get("Config") or {}).get("Labels") or {}
    if labelkeys.is_owned(labels):
        return DriverError(name, "container already exists")
    image = (info.get("Config") or {}).get("Image", "?")
    project = labels.get("com.docker.compose.project")
    advice = (f"it belongs to the Compose project {project!r}: to move the project over, "
              f"run `docker compose -p {project} down`, then "
              "`reconcile apply`" if project else "rename or remove it, or rename the stack")
    return DriverError(name, f"the name is taken by a container reconcile does not manage "
                             f"(id {str(info.get('Id', ''))[:12]}, image {image}): {advice}")


def _ipam(subnet: str) -> Any:
    import docker.types  # type: ignore[import-untyped]

    return docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
