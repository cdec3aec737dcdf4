"""Small constructors of normalized desired state and its observed twin, for planner,
renderer and executor tests. They build reconciler.model objects directly (no YAML)."""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.model.actions import Plan
from reconciler.model.desired import (
    ContainerSpec,
    Dependency,
    Desired,
    DesiredStack,
    Healthcheck,
    ImageSource,
    Mount,
    PortMapping,
    RestartPolicy,
    VolumeSpec,
)
from reconciler.model.hashing import config_hash
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.model.records import replace
from reconciler.planner.render import render_text
from tests.fakes import digest_of, observed_from_spec


def ref_image(key: str, ref: str, pull: str = "missing") -> ImageSource:
    return ImageSource(key=key, kind="ref", identity=ref, ref=ref, pull=pull)  # type: ignore[arg-type]


def oci_image(key: str, path: str) -> ImageSource:
    identity = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
    return ImageSource(key=key, kind="oci", identity=identity, path=path)


def container(
    key: str, image: ImageSource, stack: str = "shop", replica: int = 1, **fields: Any
) -> ContainerSpec:
    name = f"{stack}-{key}" if replica == 1 else f"{stack}-{key}-{replica}"
    spec = ContainerSpec(stack=stack, key=key, name=name, replica=replica, image=image, **fields)
    return replace(spec, config_hash=config_hash(spec))


def rehash(spec: ContainerSpec, **changes: Any) -> ContainerSpec:
    """`spec` with `changes`, config hash recomputed as normalize would."""
    changed = replace(spec, **changes)
    return replace(changed, config_hash=config_hash(changed))


def replicas(spec: ContainerSpec, count: int) -> list[ContainerSpec]:
    return [rehash(spec, replica=n, name=_replica_name(spec, n)) for n in range(1, count + 1)]


def _replica_name(spec: ContainerSpec, n: int) -> str:
    return f"{spec.stack}-{spec.key}" if n == 1 else f"{spec.stack}-{spec.key}-{n}"


WEB_IMAGE = ref_image("web", "registry.local:5000/acme/web:1.4")
BASE_IMAGE = oci_image("base", "/srv/shop/images/busybox")


DB_CHECK = Healthcheck(kind="tcp", port=5432, interval=1.0, timeout=1.0)


def base_stack() -> DesiredStack:
    """The shop: db (volume, restart always), web (depends on db), cache, a one-shot job."""
    db = container(
        "db",
        BASE_IMAGE,
        env=(("TZ", "UTC"),),
        mounts=(Mount(type="volume", target="/var/lib/db", source="data"),),
        restart=RestartPolicy(policy="always"),
        healthcheck=DB_CHECK,
    )
    web = container(
        "web",
        WEB_IMAGE,
        ports=(PortMapping(8080, 80),),
        mounts=(
            Mount(
                type="bind",
                target="/etc/nginx.conf",
                source="/srv/shop/nginx.conf",
                read_only=True,
                content_hash=digest_of("nginx.conf v1"),
            ),
        ),
        depends_on=(Dependency("db", "started"),),
        restart=RestartPolicy(policy="unless-stopped"),
    )
    cache = container("cache", BASE_IMAGE, command=("cache", "--port", "6379"))
    job = container("job", BASE_IMAGE, command=("migrate",))
    return DesiredStack(
        name="shop",
        source="/srv/shop/shop.yaml",
        images=(BASE_IMAGE, WEB_IMAGE),
        volumes=(VolumeSpec("shop", "data"),),
        containers=(cache, db, job, web),
    )


def observed_for(desired: Desired) -> Observed:
    """The host after a successful apply of `desired`: the job ran once and exited 0."""
    containers: list[ObservedContainer] = []
    images: dict[str, str] = {}
    for spec in desired.containers():
        digest = images.setdefault(spec.image.identity, digest_of(spec.image.identity))
        if spec.key == "job":
            containers.append(observed_from_spec(spec, digest, "exited", exit_code=0))
        else:  # health checks of a converged host pass
            health = "healthy" if spec.healthcheck else "none"
            containers.append(observed_from_spec(spec, digest, health=health))
    volumes = frozenset(v.full_name for s in desired.stacks for v in s.volumes)
    return Observed(tuple(containers), images, volumes)


def with_containers(stack: DesiredStack, *specs: ContainerSpec) -> DesiredStack:
    """`stack` with the containers of the same names swapped for `specs` (new ones added)."""
    by_name = {c.name: c for c in stack.containers}
    by_name.update({c.name: c for c in specs})
    return replace(stack, containers=tuple(by_name.values()))


def without(stack: DesiredStack, *keys: str) -> DesiredStack:
    return replace(stack, containers=tuple(c for c in stack.containers if c.key not in keys))


def spec_of(stack: DesiredStack, key: str) -> ContainerSpec:
    return next(c for c in stack.containers if c.key == key and c.replica == 1)


def replace_observed(observed: Observed, name: str, **changes: Any) -> Observed:
    containers = tuple(replace(c, **changes) if c.name == name else c for c in observed.containers)
    return replace(observed, containers=containers)


def golden_text(plan: Plan) -> str:
    """The text rendering with each action's id and dependency edges on the line below it,
    so a golden test fails on an ordering bug the one-line form would hide."""
    lines = render_text(plan, color=False).split("\n")
    out = []
    for line, action in zip(lines, plan.actions, strict=False):
        edges = f" ← {', '.join(action.depends_on)}" if action.depends_on else ""
        out += [line, f"    [{action.id}]{edges}"]
    return "\n".join(out + lines[len(plan.actions):])
