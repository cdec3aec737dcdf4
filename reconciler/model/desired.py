"""The normalized desired state: what `normalize` produces and the planner and drivers read.

Every value is already parsed: sizes are bytes, durations are seconds (float), paths are
absolute, short forms are expanded, defaults are filled. Collections are tuples so that
every object is hashable and immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from reconciler.model.errors import Problem
from reconciler.model.records import field, record

Protocol_ = Literal["tcp", "udp"]
MountType = Literal["bind", "volume", "tmpfs"]
RestartName = Literal["no", "always", "unless-stopped", "on-failure"]
HealthKind = Literal["exec", "http", "tcp"]
Condition = Literal["started", "healthy", "completed"]
NetworkMode = Literal["private", "host", "none"]
ImageKind = Literal["oci", "archive", "ref", "build", "dockerfile"]
PullPolicy = Literal["missing", "always", "never"]

IMAGE_KINDS: tuple[ImageKind, ...] = get_args(ImageKind)  # the schema's `x-exactly-one` too

# Defaults, once: the dataclasses below, normalize and the drivers read these names.
# The health-check values are Docker's (HEALTHCHECK's interval, timeout, retries).
HEALTH_INTERVAL = 30.0
HEALTH_TIMEOUT = 30.0
HEALTH_RETRIES = 3
HEALTH_START_PERIOD = 0.0
STOP_SIGNAL = "SIGTERM"
STOP_GRACE_PERIOD = 10.0


@record(frozen=True)
class PortMapping:
    """A published port: host_port on the host forwards to container_port."""
    host_port: int
    container_port: int
    protocol: Protocol_ = "tcp"
    host_ip: str = ""  # "" means every host address


@record(frozen=True)
class Mount:
    """A bind, named-volume or tmpfs mount at `target` inside the container."""
    type: MountType
    target: str  # absolute path inside the container
    source: str = ""  # bind: absolute host path; volume: volume name; tmpfs: ""
    read_only: bool = False
    size: int | None = None  # tmpfs size in bytes
    content_hash: str = ""  # bind: sha256 of the file/dir contents, so edits replace


@record(frozen=True)
class SecretFile:
    """A file the container reads at `target`, from a (usually age-encrypted) file of the
    stack; the driver puts it on a tmpfs only (docs/gitops.md)."""

    target: str  # absolute path inside the container
    source: str  # absolute host path of the (encrypted) file
    content_hash: str  # sha256 of the clear content: a changed secret replaces
    mode: int = 0o444
    clear: str = field(default="", repr=False)  # base64 of the clear bytes, memory only


@record(frozen=True)
class Ulimit:
    """One resource limit (setrlimit) for the container's processes."""
    name: str  # e.g. "nofile"
    soft: int
    hard: int


@record(frozen=True)
class Limits:
    """The container's cgroup limits, parsed: bytes, CPUs, shares, pids."""
    memory: int | None = None  # bytes
    memory_swap: int | None = None  # bytes, memory+swap as in Docker
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids: int | None = None
    ulimits: tuple[Ulimit, ...] = ()


@record(frozen=True)
class Backoff:
    """The delays between restarts: exponential from `initial` up to `max` seconds."""
    initial: float = 0.1
    max: float = 60.0
    factor: float = 2.0
    reset_after: float = 10.0


@record(frozen=True)
class RestartPolicy:
    """When the loop restarts an exited container, and how often at most."""
    policy: RestartName = "no"
    max_retries: int | None = None  # on-failure:N
    backoff: Backoff = field(default_factory=Backoff)


@record(frozen=True)
class Healthcheck:
    """How and how often the container's health is probed."""
    kind: HealthKind
    exec: tuple[str, ...] = ()
    port: int | None = None
    path: str = "/"
    interval: float = HEALTH_INTERVAL
    timeout: float = HEALTH_TIMEOUT
    retries: int = HEALTH_RETRIES
    start_period: float = HEALTH_START_PERIOD
    on_unhealthy: Literal["none", "restart"] = "none"


@record(frozen=True)
class Dependency:
    """A container of the same stack that must reach `condition` before this one starts."""
    container: str  # key in the same stack
    condition: Condition = "started"


@record(frozen=True)
class CopyStep:
    """One file or folder that a declarative `build:` copies into the image."""
    src: str  # absolute host path
    dest: str
    content_hash: str = ""


@record(frozen=True)
class BuildSpec:
    """A declarative image: a base image of the stack plus copied files and settings."""
    base: str  # image key in the same stack, or "scratch"
    copy: tuple[CopyStep, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    user: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


@record(frozen=True)
class DockerfileSpec:
    """`images: {app: {dockerfile: ./Dockerfile, context: ., args: {...}, target: t}}`."""

    context: str  # absolute folder
    dockerfile: str  # absolute path
    args: tuple[tuple[str, str], ...] = ()  # sorted by name
    target: str | None = None
    network: bool = False


@record(frozen=True)
class ImageSource:
    """Where an image comes from. `identity` names its content without touching the store:
    for `ref` the normalized reference, for `oci`/`archive` the hash of the source, for
    `build` the hash of every build input (including the base image's identity)."""

    key: str  # key under images:, or the reference itself for bare `image: ref`
    kind: ImageKind
    identity: str
    path: str = ""  # oci / archive
    ref: str = ""  # ref
    pull: PullPolicy = "missing"
    build: BuildSpec | None = None
    base: ImageSource | None = None  # build: the resolved base image (None for scratch)
    dockerfile: DockerfileSpec | None = None
    # dockerfile: the stack's images its FROM / COPY --from lines name, by key
    bases: tuple[ImageSource, ...] = ()


@record(frozen=True)
class VolumeSpec:
    """A named volume of a stack."""
    stack: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.stack}-{self.name}"


@record(frozen=True)
class ContainerSpec:
    """One container as normalized from its stack: every field parsed and defaulted."""
    stack: str
    key: str  # the container's key in the stack
    name: str  # host-wide name: "<stack>-<key>" or "<stack>-<key>-<n>"
    replica: int  # 1-based
    image: ImageSource
    source: str = ""  # the stack file this came from
    # Provenance: the git commit (HEAD of the stack file's work tree) it was loaded at; ""
    # when the file is not in git. Out of the config hash: a new commit replaces nothing.
    source_commit: str = ""
    entrypoint: tuple[str, ...] | None = None  # None: the image's
    command: tuple[str, ...] | None = None  # None: the image's
    env: tuple[tuple[str, str], ...] = ()  # sorted by name; env_file merged in
    env_file_hash: str = ""
    # Variables from age-encrypted env files (docs/gitops.md), clear, in memory only: never
    # recorded, printed or put in the config hash as values (env_file_hash covers them).
    secret_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secret_files: tuple[SecretFile, ...] = ()  # `secrets:`, sorted by target
    ports: tuple[PortMapping, ...] = ()
    mounts: tuple[Mount, ...] = ()
    limits: Limits = field(default_factory=Limits)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    healthcheck: Healthcheck | None = None
    depends_on: tuple[Dependency, ...] = ()
    hostname: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    user: str | None = None
    workdir: str | None = None
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    # Docker's `--init`: a minimal init (tini) as PID 1 that forwards signals to the
    # command and reaps the zombies it leaves (docs/spec.md).
    init: bool = False
    stop_signal: str | None = None  # None: the image's StopSignal, else STOP_SIGNAL
    stop_grace_period: float = STOP_GRACE_PERIOD
    mac_address: str | None = None
    dns: tuple[str, ...] = ()
    network: NetworkMode = "private"
    subnet: str = ""  # the stack's `networks.default.subnet`; "" picks a free one
    # `update:` how a replace rolls out (docs/plan.md): stop-first, or start-first (the new
    # one must be healthy within update_deadline seconds, None: from its healthcheck).
    update_order: Literal["stop-first", "start-first"] = "stop-first"
    update_deadline: float | None = None
    config_hash: str = ""  # filled by normalize (hashing.config_hash)

    @property
    def env_map(self) -> Mapping[str, str]:
        return dict(self.env)


@record(frozen=True)
class DesiredStack:
    """One stack file's containers, images and volumes, normalized."""
    name: str
    source: str  # absolute path of the stack file
    images: tuple[ImageSource, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    containers: tuple[ContainerSpec, ...] = ()
    # Risky but allowed settings (a bind of /etc, cap_add: [ALL]), located, severity
    # "warning": carried as data so that validate prints them and plans show them.
    warnings: tuple[Problem, ...] = ()


@record(frozen=True)
class Desired:
    """Every stack this command manages: what the planner compares with `Observed`."""
    stacks: tuple[DesiredStack, ...] = ()

    def containers(self) -> tuple[ContainerSpec, ...]:
        return tuple(c for s in self.stacks for c in s.containers)

    def warnings(self) -> tuple[Problem, ...]:
        return tuple(sorted({w for s in self.stacks for w in s.warnings}))
