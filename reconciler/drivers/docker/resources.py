"""The engine objects a stack owns besides its containers: named volumes, and the one
user-defined bridge network `reconcile-<stack>` its private containers share.

A network is ensured once per stack per process (then remembered), and dropped when the
stack's last container on it goes: the driver tells which containers it knows on each
network (from observe and its own creates), so the engine is asked whether a network is
unused only when none of them is left.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.drivers.docker.client import engine_errors, not_found
from reconciler.drivers.docker.engine_api import EngineAPI, path_of
from reconciler.drivers.docker.mapping import network_name, volume_name
from reconciler.model import labels as labelkeys
from reconciler.model.desired import ContainerSpec, VolumeSpec
from reconciler.model.errors import DriverError

VOLUME_LABEL = "io.reconcile.volume"


def check_ours(info: dict[str, Any], name: str, kind: str) -> None:
    if labelkeys.STACK not in (info.get("Labels") or {}):
        raise DriverError(name, f"a {kind} of this name exists and is not reconcile's "
                                f"(no {labelkeys.STACK} label): rename or remove it")


class StackResources:
    def __init__(self, engine: Callable[[], EngineAPI], host: str) -> None:
        self._engine, self.host = engine, host
        self._lock = threading.Lock()
        self._ready: set[str] = set()  # networks ensured by this process
        self._members: dict[str, set[str]] = {}  # stack -> our containers on its network

    # -- volumes --

    def volume_names(self, stacks: frozenset[str] | None) -> frozenset[str]:
        with engine_errors("volumes", host=self.host):
            listed = self._engine().call("GET", "/volumes", {
                "filters": {"label": [labelkeys.STACK]}}) or {}
        return frozenset(v["Name"] for v in listed.get("Volumes") or []
                         if stacks is None or (v.get("Labels") or {}).get(labelkeys.STACK)
                         in stacks)

    def _volume(self, name: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self._engine().call("GET", f"/volumes/{path_of(name)}")
        except Exception as exc:
            if not_found(exc):
                return None
            raise
        return info

    def create_volume(self, volume: VolumeSpec) -> None:
        name = volume_name(volume.stack, volume.name)
        with engine_errors(name, host=self.host):
            existing = self._volume(name)
            if existing is not None:
                return check_ours(existing, name, "volume")
            self._engine().call("POST", "/volumes/create", body={
                "Name": name, "Labels": {labelkeys.STACK: volume.stack,
                                         VOLUME_LABEL: volume.name}})
        return None

    def remove_volume(self, volume: VolumeSpec) -> None:
        name = volume_name(volume.stack, volume.name)
        with engine_errors(name, host=self.host):
            existing = self._volume(name)
            if existing is None:
                return
            check_ours(existing, name, "volume")
            self._engine().status("DELETE", f"/volumes/{path_of(name)}")

    # -- the stack's network --

    def seen(self, stacks: Iterable[str] | None, members: dict[str, set[str]]) -> None:
        """observe() found `members` (stack -> names on its network) for `stacks` (None:
        for every stack, so what is not in `members` has none)."""
        with self._lock:
            if stacks is None:
                self._members = {stack: set(names) for stack, names in members.items()}
            for stack in stacks or ():
                self._members[stack] = set(members.get(stack, ()))

    def ensure_network(self, spec: ContainerSpec) -> str:
        """The stack's network, made if missing; `spec` counts as a member from now on."""
        name = network_name(spec.stack)
        with self._lock, engine_errors(name, host=self.host):
            self._members.setdefault(spec.stack, set()).add(spec.name)
            if name in self._ready:
                return name
            engine = self._engine()
            for net in engine.call("GET", "/networks", {"filters": {"name": [name]}}) or []:
                if net.get("Name") == name:
                    check_ours(net, name, "network")
                    self._ready.add(name)
                    return name
            ipam = ({"Driver": "default", "Config": [{"Subnet": spec.subnet}]}
                    if spec.subnet else None)
            engine.call("POST", "/networks/create", body={
                "Name": name, "Driver": "bridge", "CheckDuplicate": True,
                "Labels": {labelkeys.STACK: spec.stack},
                **({"IPAM": ipam} if ipam else {})})
            self._ready.add(name)
        return name

    def forget_network(self, stack: str) -> None:
        """The network went away behind our back (a create found it missing)."""
        with self._lock:
            self._ready.discard(network_name(stack))

    def left(self, stack: str, container: str) -> None:
        """`container` of `stack` was removed from the stack's network: drop the network
        when it was the last member."""
        with self._lock:
            members = self._members.get(stack)
            if members is not None:
                members.discard(container)
                if members:
                    return
            self._drop_if_unused(network_name(stack))

    def _drop_if_unused(self, name: str) -> None:
        engine = self._engine()
        with engine_errors(name, host=self.host):
            try:
                detail = engine.call("GET", f"/networks/{path_of(name)}")
            except Exception as exc:
                if not_found(exc):
                    self._ready.discard(name)
                    return
                raise
            if labelkeys.STACK not in (detail.get("Labels") or {}) or detail.get("Containers"):
                return
            with contextlib.suppress(Exception):  # another process's create raced us: it stays
                engine.status("DELETE", f"/networks/{path_of(detail['Id'])}")
            self._ready.discard(name)
