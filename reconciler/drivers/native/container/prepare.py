"""Everything `create` makes on disk before runc runs: mounts resolved, the overlay rootfs,
the generated /etc files and the bundle's config.json. Each step raises DriverError naming
the container; the driver removes whatever was made when one fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.drivers import etcfiles
from reconciler.drivers.native import hostinfo
from reconciler.drivers.native.container import rootfs, seccomp, security, users
from reconciler.drivers.native.container.bundle import (
    MAX_DEFAULT_NOFILE,
    BundleInputs,
    ResolvedMount,
    oci_config,
)
from reconciler.drivers.native.container.state import DIR_MODE, ContainerPaths, write_record
from reconciler.drivers.native.container.volumes import VolumeStore
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import DriverError, ReconcileError
from reconciler.model.records import record
from reconciler.support import atomic, rlimits


@record(frozen=True)
class ImageView:
    """What preparing a container needs of an image record."""

    config: Any  # the OCI image config's "config" object
    layers: tuple[Path, ...]  # bottom -> top


def resolve_mounts(spec: ContainerSpec, volumes: VolumeStore) -> tuple[ResolvedMount, ...]:
    """Host side of every mount. A missing bind source is an error found before anything
    is made (Docker would silently create an empty directory: a typo would go unnoticed)."""
    resolved = []
    for index, mount in enumerate(spec.mounts):
        source = ""
        if mount.type == "bind":
            if not Path(mount.source).exists():
                raise DriverError(
                    spec.name,
                    f"mounts[{index}] (target {mount.target}): bind source {mount.source} "
                    "does not exist",
                )
            source = mount.source
        elif mount.type == "volume":
            source = str(volumes.path(f"{spec.stack}-{mount.source}"))
        resolved.append(
            ResolvedMount(mount.type, mount.target, source, mount.read_only, mount.size)
        )
    return tuple(resolved)


def init_binary(spec: ContainerSpec) -> str | None:
    """The host's static tini for an `init: true` container (None without init); its
    absence is an error found before anything is made, naming the package to install."""
    if not spec.init:
        return None
    found = hostinfo.find_init()
    if found is None:
        raise DriverError(spec.name, f"init: true: {hostinfo.INIT_MISSING}")
    return found


def make_volumes(mounts: tuple[ResolvedMount, ...], volumes: VolumeStore) -> None:
    """Named volumes a container mounts are created on first use, as Docker does."""
    for mount in mounts:
        if mount.type == "volume":
            volumes.ensure(Path(mount.source).name)


def make_rootfs(paths: ContainerPaths, image: ImageView, name: str) -> None:
    paths.upper.mkdir(mode=0o755, exist_ok=True)  # the merged root takes upper's mode
    paths.work.mkdir(mode=DIR_MODE, exist_ok=True)
    paths.rootfs.mkdir(mode=0o755, exist_ok=True)
    if rootfs.is_mounted(paths.rootfs):
        return
    try:
        rootfs.mount_overlay(image.layers, paths.upper, paths.work, paths.rootfs)
    except OSError as e:
        raise DriverError(name, str(e)) from e


def write_etc_files(
    paths: ContainerPaths, spec: ContainerSpec, hosts: str | None = None
) -> dict[str, str]:
    """Generate hosts (unless given: the stack's members, from the network setup),
    hostname and resolv.conf; return container path -> host path."""
    paths.etc.mkdir(mode=0o755, exist_ok=True)
    hostname = spec.hostname or spec.name
    host_resolv = etcfiles.read_host_resolv()
    contents = {
        "hosts": hosts if hosts is not None else etcfiles.hosts_file(hostname),
        "hostname": etcfiles.hostname_file(hostname),
        "resolv.conf": etcfiles.resolv_conf(host_resolv, spec.dns, spec.network),
    }
    mapping = {}
    for file_name, text in contents.items():
        host_path = paths.etc / file_name
        atomic.write_text(host_path, text, mode=0o644)  # read by a (maybe non-root) user
        mapping[f"/etc/{file_name}"] = str(host_path)
    return mapping


def bundle_inputs(
    paths: ContainerPaths,
    spec: ContainerSpec,
    image: ImageView,
    mounts: tuple[ResolvedMount, ...],
    etc_files: dict[str, str],
    netns_path: str | None = None,
    cgroups_path: str = "",
) -> BundleInputs:
    try:
        user = users.resolve_user(spec.user, [str(p) for p in reversed(image.layers)])
        profile = seccomp.profile_for(security.parse_security_opt(spec.security_opt))
        nofile = rlimits.host_hard_limit("nofile") or MAX_DEFAULT_NOFILE
    except DriverError:
        raise
    except ReconcileError as e:
        raise DriverError(spec.name, str(e)) from e
    return BundleInputs(
        spec=spec,
        image_config=image.config or {},
        rootfs=str(paths.rootfs),
        mounts=mounts,
        etc_files=etc_files,
        cgroups_path=cgroups_path,
        netns_path=netns_path,
        uid=user.uid,
        gid=user.gid,
        additional_gids=user.additional_gids,
        host_nofile_hard=nofile,
        seccomp=profile,
        init_binary=init_binary(spec),
    )


def prepare(
    paths: ContainerPaths,
    spec: ContainerSpec,
    image: ImageView,
    volumes: VolumeStore,
    netns_path: str | None = None,
    hosts: str | None = None,
    cgroups_path: str = "",
) -> None:
    """Make the rootfs, /etc files and bundle of a container whose dir and record exist.
    `netns_path`: the network namespace runc joins (None: a fresh one, or the host's)."""
    mounts = resolve_mounts(spec, volumes)
    make_volumes(mounts, volumes)
    paths.logs.mkdir(mode=DIR_MODE, exist_ok=True)
    paths.bundle.mkdir(mode=DIR_MODE, exist_ok=True)
    make_rootfs(paths, image, spec.name)
    etc_files = write_etc_files(paths, spec, hosts)
    config = oci_config(
        bundle_inputs(paths, spec, image, mounts, etc_files, netns_path, cgroups_path))
    write_record(paths.config, config)  # it holds env values: root only
