"""The native driver's on-disk state: directory layout and records.

Layout under the state dir (every directory 0700 unless it must be entered by a container
user)::

    images/                    ImageStore
    containers/<name>/
        spec.json              ContainerRecord: full spec, hashed fields, labels, digest
        bundle/config.json     the OCI runtime config runc reads
        rootfs/                overlay mountpoint (the container's /)
        upper/ work/           overlay upper and work dirs (upper is the writable layer)
        etc/                   hosts, hostname, resolv.conf bind-mounted into the container
        logs/container.log     JSON lines written by the monitor (rotated: .1, .2, ...)
        prepared               create() made everything; no runc process until start()
        monitor.pid            written by the monitor once `runc run -d` succeeded
        container.pid          the container's init pid (runc create --pid-file)
        started.json           when the container was last started, its pid, how often
        exit.json              written by the monitor when the container's init exits
    volumes/<stack>-<name>/    named volumes
    runc/                      `runc --root`

Every record is written with `support.atomic` (temporary file, fsync, rename), so a reader
never sees half a record, even when the writer is killed mid-write.
"""

from __future__ import annotations

import json
import types
import typing
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model.records import asdict, is_record, record
from reconciler.model.records import fields as record_fields

# The model is decoded on demand: the driver's layout (StateLayout) is wanted by commands,
# such as `images build`, that read no container record.
if TYPE_CHECKING:
    from reconciler.model.desired import ContainerSpec, Healthcheck, Mount, PortMapping

DIR_MODE = 0o700
# the names observe looks for in one listing of a container's folder
RECORD_FILE, EXIT_FILE, STARTED_FILE, PID_FILE, PREPARED_FILE, MONITOR_PID_FILE = (
    "spec.json", "exit.json", "started.json", "container.pid", "prepared", "monitor.pid")


def read_json(path: Path) -> Any | None:
    """The record at `path`, or None when it is missing or unreadable (half-made dir)."""
    try:
        with open(path, "rb") as f:  # bytes: json decodes UTF-8 itself, no text layer
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


@record(frozen=True)
class ContainerPaths:
    """The files of one container. Each path is made once (observe reads ~7 a container,
    and pathlib joins are a third of its time)."""

    root: Path  # containers/<name>

    @cached_property
    def record(self) -> Path:
        return self.root / RECORD_FILE

    @cached_property
    def bundle(self) -> Path:
        return self.root / "bundle"

    @cached_property
    def config(self) -> Path:
        return self.bundle / "config.json"

    @cached_property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    @cached_property
    def upper(self) -> Path:
        return self.root / "upper"

    @cached_property
    def work(self) -> Path:
        return self.root / "work"

    @cached_property
    def etc(self) -> Path:
        return self.root / "etc"

    @cached_property
    def logs(self) -> Path:
        return self.root / "logs"

    @cached_property
    def log_file(self) -> Path:
        return self.logs / "container.log"

    @cached_property
    def monitor_pid(self) -> Path:
        return self.root / MONITOR_PID_FILE

    @cached_property
    def prepared(self) -> Path:
        """Left by create(): all made, no runc process yet; start() runs `runc run -d`."""
        return self.root / PREPARED_FILE

    @cached_property
    def container_pid(self) -> Path:
        return self.root / PID_FILE  # runc create --pid-file

    @cached_property
    def started(self) -> Path:
        return self.root / STARTED_FILE

    @cached_property
    def exit(self) -> Path:
        return self.root / EXIT_FILE

    @cached_property
    def removing(self) -> Path:
        """Left by remove() before it stops anything: a removal cut short shows as dead."""
        return self.root / "removing"


@record(frozen=True)
class StateLayout:
    """The folders of the native driver's state dir."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def runc_root(self) -> Path:
        return self.root / "runc"

    def container(self, name: str) -> ContainerPaths:
        return ContainerPaths(self.containers / name)

    def make_dirs(self) -> None:
        for d in (self.root, self.images, self.containers, self.volumes, self.runc_root):
            d.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


RECORD_MODE = 0o600  # records and config.json hold env values (secrets); readers are root


def write_record(path: Path, data: Any) -> None:
    """spec.json and config.json: atomically, readable by root only whatever the umask."""
    from reconciler.support import atomic  # writers only: observe never loads `secrets`

    atomic.write_json(path, data, mode=RECORD_MODE)


@record(frozen=True)
class RecordHead:
    """spec.json as read, the spec itself left undecoded: a full decode costs ~3 ms a
    container, too slow for observe (every container, every second). The cheap fields are
    typed here, once; `decode()` gives the full ContainerRecord."""

    labels: dict[str, str]
    hashed_fields: dict[str, Any] | None  # None: an old record without them
    image_digest: str
    created_at: float | None
    spec_data: dict[str, Any]  # the spec in its `asdict` form

    @property
    def stack(self) -> str:
        return str(self.spec_data.get("stack", ""))

    @property
    def network(self) -> str:
        return str(self.spec_data.get("network", "private"))

    def ports(self) -> tuple[PortMapping, ...]:
        from reconciler.model.desired import PortMapping

        ports: tuple[PortMapping, ...] = _decode_or_empty(tuple[PortMapping, ...], "ports", self)
        return ports

    def mounts(self) -> tuple[Mount, ...]:
        from reconciler.model.desired import Mount

        mounts: tuple[Mount, ...] = _decode_or_empty(tuple[Mount, ...], "mounts", self)
        return mounts

    def healthcheck(self) -> Healthcheck | None:
        """The check recorded at create (the spec's or the image's); None if none or damaged."""
        from reconciler.model.desired import Healthcheck

        raw = self.spec_data.get("healthcheck")
        if not isinstance(raw, dict):
            return None
        try:
            check: Healthcheck = decode(Healthcheck, raw)
        except (KeyError, TypeError, ValueError):
            return None
        return check

    def decode(self) -> ContainerRecord:
        """Raises KeyError, TypeError or ValueError for a damaged spec."""
        from reconciler.model.desired import ContainerSpec

        return ContainerRecord(
            spec=decode(ContainerSpec, self.spec_data),
            hashed_fields=dict(self.hashed_fields or {}),
            labels=self.labels,
            image_digest=self.image_digest,
            created_at=self.created_at or 0.0,
        )


@record(frozen=True)
class ContainerRecord:
    """What spec.json holds: enough to re-create or restart the container without the
    stack file, and everything observe reports."""

    spec: ContainerSpec
    hashed_fields: dict[str, Any]
    labels: dict[str, str]
    image_digest: str
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": asdict(self.spec),
            "hashed_fields": self.hashed_fields,
            "labels": self.labels,
            "image_digest": self.image_digest,
            "created_at": self.created_at,
        }


def read_record(paths: ContainerPaths) -> RecordHead | None:
    """The one reader of spec.json. None when it is missing, unreadable or not a record
    (a half-made dir); a record whose spec is damaged still reads, its labels decide."""
    data = read_json(paths.record)
    if not isinstance(data, dict):
        return None
    labels, hashed, spec = data.get("labels") or {}, data.get("hashed_fields"), data.get("spec")
    if not isinstance(labels, dict):
        return None
    created = data.get("created_at")
    return RecordHead(
        labels={str(k): str(v) for k, v in labels.items()},
        hashed_fields=hashed if isinstance(hashed, dict) else None,
        image_digest=str(data.get("image_digest", "")),
        created_at=float(created) if isinstance(created, int | float) else None,
        spec_data=spec if isinstance(spec, dict) else {},
    )


def load_record(paths: ContainerPaths) -> ContainerRecord | None:
    """The record with its spec decoded; None when missing or damaged."""
    head = read_record(paths)
    if head is None:
        return None
    try:
        return head.decode()
    except (KeyError, TypeError, ValueError):
        return None


def _decode_or_empty(cls: Any, field: str, head: RecordHead) -> Any:
    """One field of the spec, () when it is damaged: a cheap look, never an error."""
    try:
        return decode(cls, head.spec_data.get(field) or ())
    except (KeyError, TypeError, ValueError):
        return ()


def decode(cls: Any, value: Any) -> Any:
    """Rebuild a model value (frozen records of tuples) from its `asdict` JSON form,
    following the type hints, so spec.json round-trips to an equal ContainerSpec."""
    if value is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(cls) if a is not type(None)]
        return decode(options[0], value)
    if origin is typing.Literal:
        return value
    if origin is tuple:
        args = typing.get_args(cls)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        return tuple(decode(a, v) for a, v in zip(args, value, strict=True))
    if is_record(cls):
        hints = typing.get_type_hints(cls)
        kwargs = {
            f.name: decode(hints[f.name], value[f.name])
            for f in record_fields(cls)
            if f.name in value
        }
        return typing.cast(Any, cls)(**kwargs)
    if cls is float and isinstance(value, int):
        return float(value)
    return value
