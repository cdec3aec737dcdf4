"""What the docker driver remembers of the containers of ours it saw (observe) or made
(create): enough to act on one by its id, with no ownership inspect first; and the count
of its starts, which the engine does not keep (its restart policy is always "no")."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

from reconciler.drivers.docker.mapping import ETC_LABEL, network_name
from reconciler.model import labels as labelkeys
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import DriverError
from reconciler.model.records import record

_KILL = ("SIGKILL", "KILL", "9")


@record(frozen=True)
class Known:
    id: str
    stack: str
    graceful: bool  # its stop signal is not SIGKILL and its grace period not 0
    private: bool  # on the stack's network
    grace: float = 10.0  # seconds a stop may wait before the engine kills (StopTimeout)
    etc: str = ""  # a loopback container's /etc folder token (loopback.py), else ""
    hostname: str = ""  # with the dns servers: what that folder's files are made from
    dns: tuple[str, ...] = ()


def known_of(info: dict[str, Any]) -> Known:
    """From the engine's inspect of a container of ours."""
    config = info.get("Config") or {}
    stack = (config.get("Labels") or {})[labelkeys.STACK]
    signal = str(config.get("StopSignal") or "SIGTERM").upper()
    timeout = config.get("StopTimeout")
    grace = float(timeout) if isinstance(timeout, int | float) else 10.0  # the engine's default
    graceful = signal not in _KILL and grace != 0
    host = info.get("HostConfig") or {}
    private = host.get("NetworkMode") == network_name(stack)
    etc = str((config.get("Labels") or {}).get(ETC_LABEL) or "")
    return Known(str(info["Id"]), stack, graceful, private, grace, etc,
                 str(config.get("Hostname") or ""), tuple(host.get("Dns") or ()))


def known_from(container_id: str, spec: ContainerSpec, etc: str = "") -> Known:
    """From the spec a container was just created from (`etc`: its /etc folder token)."""
    graceful = (spec.stop_signal or "SIGTERM").upper() not in _KILL and (
        spec.stop_grace_period > 0)
    return Known(container_id, spec.stack, graceful, spec.network == "private",
                 float(math.ceil(spec.stop_grace_period)), etc, spec.hostname or spec.name,
                 spec.dns)


def clash(name: str, info: dict[str, Any] | None) -> DriverError:
    """A create found the name taken: by a container of ours, or by someone else's."""
    info = info or {}
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


class StartCounts:
    """`<state-dir>/docker/starts/<container id>`: how often reconcile started it."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "starts"

    def get(self, container_id: str) -> int:
        try:
            return int((self.folder / container_id).read_text())
        except (OSError, ValueError):
            return 0

    def count(self, container_id: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / container_id
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(str(self.get(container_id) + 1))
        os.replace(tmp, path)

    def forget(self, container_id: str) -> None:
        (self.folder / container_id).unlink(missing_ok=True)
