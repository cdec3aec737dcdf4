"""Declarative image build: a base image (or scratch) plus one layer of copied files and
config changes. No commands run, so the result is reproducible: the same inputs give the
same manifest digest, byte for byte.

The new layer is an uncompressed GNU tar (no PAX timestamps) with entries sorted by path,
mtime 0 and owner 0:0; file modes come from the sources. Parent directories the copy
needs take the mode and owner the base image gives them (so copying into /tmp keeps
/tmp 1777), or 0755 root when the base lacks them.
"""

from __future__ import annotations

import copy
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from reconciler.drivers.images import oci
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.model.errors import ImageError
from reconciler.model.records import record

if TYPE_CHECKING:  # COPY's LayerItem lives here: the Dockerfile builder imports no model
    from reconciler.drivers.base import Progress
    from reconciler.model.desired import BuildSpec, ImageSource

EPOCH = "1970-01-01T00:00:00Z"


@record(frozen=True)
class LayerItem:
    """One entry of the new layer."""

    kind: str  # "dir" | "file" | "symlink"
    mode: int
    source: Path | None = None  # file contents / symlink
    uid: int = 0
    gid: int = 0


def build_image(store: ImageStore, image: ImageSource, base: ImageRecord | None,
                progress: Progress | None = None) -> str:
    """Build `image` on `base` (its ensured base image, None for scratch)."""
    spec = image.build
    if spec is None:
        raise ImageError(image.key, "build image has no build spec")
    base_layers: tuple[Path, ...] = ()
    if base is not None:
        base_layers = base.layers
        manifest = json.loads(store.read_blob(base.digest))
        config = json.loads(store.read_blob(manifest["config"]["digest"]))
        layer_descs = list(manifest["layers"])
    else:
        manifest, config, layer_descs = {}, scratch_config(), []
    items = collect_items(spec, base_layers, image.key)
    layer_path = store.tmp_path("build-layer")
    try:
        new_desc = write_layer(items, layer_path) if items else None
        if new_desc is not None:
            layer_descs.append(new_desc)
        config_bytes = oci.canonical_json(
            updated_config(config, spec, new_desc["digest"] if new_desc else None)
        )
        manifest_bytes = oci.build_manifest(
            oci.descriptor(oci.MEDIA_CONFIG, config_bytes), layer_descs
        )
        data = oci.ImageSourceData(
            manifest=manifest_bytes,
            manifest_digest=oci.sha256_digest(manifest_bytes),
            config=config_bytes,
            config_digest=oci.sha256_digest(config_bytes),
            layers=tuple(
                oci.LayerRef(str(d["digest"]), int(d["size"]), str(d["mediaType"]))
                for d in layer_descs
            ),
            open_blob=lambda digest: _open_blob(store, digest, new_desc, layer_path),
        )
        return store.store_image(data, image.key, progress)
    finally:
        layer_path.unlink(missing_ok=True)


def _open_blob(
    store: ImageStore, digest: str, new_desc: dict[str, Any] | None, layer_path: Path
) -> IO[bytes]:
    if new_desc is not None and digest == new_desc["digest"]:
        return layer_path.open("rb")
    return store.blob_path(digest).open("rb")


def scratch_config() -> dict[str, Any]:
    os_name, arch = oci.host_platform()
    return {
        "architecture": arch,
        "os": os_name,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }


def updated_config(base: dict[str, Any], spec: BuildSpec, diff_id: str | None) -> dict[str, Any]:
    """The base config with the build's changes, Dockerfile semantics: ENV merged by name,
    LABEL merged, ENTRYPOINT without CMD drops the base's CMD."""
    config = copy.deepcopy(base)
    inner = dict(config.get("config") or {})
    if spec.env:
        inner["Env"] = merge_env(inner.get("Env") or [], spec.env)
    if spec.workdir is not None:
        inner["WorkingDir"] = spec.workdir
    if spec.entrypoint is not None:
        inner["Entrypoint"] = list(spec.entrypoint)
        if spec.cmd is None:
            inner.pop("Cmd", None)
    if spec.cmd is not None:
        inner["Cmd"] = list(spec.cmd)
    if spec.user is not None:
        inner["User"] = spec.user
    if spec.labels:
        inner["Labels"] = {**(inner.get("Labels") or {}), **dict(spec.labels)}
    config["config"] = inner
    config["created"] = EPOCH
    rootfs = dict(config.get("rootfs") or {"type": "layers"})
    rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + ([diff_id] if diff_id else [])
    config["rootfs"] = rootfs
    step: dict[str, Any] = {"created": EPOCH, "created_by": _describe(spec)}
    if diff_id is None:
        step["empty_layer"] = True
    config["history"] = [*list(config.get("history") or []), step]
    return config


def merge_env(base: Iterable[str], changes: Iterable[tuple[str, str]]) -> list[str]:
    merged: dict[str, str] = {}
    for entry in base:
        name, _, value = entry.partition("=")
        merged[name] = value
    for name, value in changes:
        merged[name] = value  # dict keeps the base order, new names go last
    return [f"{name}={value}" for name, value in merged.items()]


def _describe(spec: BuildSpec) -> str:
    copies = " ".join(step.dest for step in spec.copy)
    return f"reconcile build: COPY {copies}" if copies else "reconcile build"


def collect_items(
    spec: BuildSpec, base_layers: tuple[Path, ...], target: str
) -> dict[str, LayerItem]:
    """Layer path (no leading /) -> entry, later copy steps overriding earlier ones."""
    items: dict[str, LayerItem] = {}
    for step in spec.copy:
        src = Path(step.src)
        dest = _layer_path(step.dest, target)
        if not src.is_symlink() and src.is_dir():
            _add_parents(items, dest, base_layers, include_self=True)
            for child in sorted(src.rglob("*")):
                rel = child.relative_to(src).as_posix()
                items[f"{dest}/{rel}" if dest else rel] = item_for(child, target)
            continue
        if not src.is_symlink() and not src.exists():
            raise ImageError(target, f"copy source {src} does not exist")
        if step.dest.endswith("/"):
            dest = f"{dest}/{src.name}" if dest else src.name
        _add_parents(items, dest, base_layers, include_self=False)
        items[dest] = item_for(src, target)
    return items


def _layer_path(dest: str, target: str) -> str:
    parts = [p for p in PurePosixPath("/", dest).parts[1:] if p != "."]
    if ".." in parts:
        raise ImageError(target, f"copy destination {dest!r} must not contain '..'")
    return "/".join(parts)


def _add_parents(
    items: dict[str, LayerItem], dest: str, base_layers: tuple[Path, ...], include_self: bool
) -> None:
    parts = dest.split("/") if dest else []
    upto = len(parts) if include_self else len(parts) - 1
    for depth in range(1, upto + 1):
        path = "/".join(parts[:depth])
        if path not in items:
            items[path] = base_dir(base_layers, path)


def base_dir(base_layers: tuple[Path, ...], path: str) -> LayerItem:
    """The directory as the base image's top-most layer has it, else 0755 root."""
    for layer in reversed(base_layers):
        current = layer
        for part in path.split("/"):
            current = current / part
            try:
                st = current.lstat()
            except FileNotFoundError:
                break
            if not stat.S_ISDIR(st.st_mode):  # symlink or whiteout: do not look through
                return LayerItem("dir", 0o755)
        else:
            return LayerItem("dir", stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)
    return LayerItem("dir", 0o755)


def item_for(path: Path, target: str) -> LayerItem:
    st = path.lstat()
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return LayerItem("symlink", 0o777, path)
    if stat.S_ISDIR(st.st_mode):
        return LayerItem("dir", mode)
    if stat.S_ISREG(st.st_mode):
        return LayerItem("file", mode, path)
    raise ImageError(target, f"copy source {path} is not a file, directory or symlink")


def write_layer(items: dict[str, LayerItem], path: Path) -> dict[str, Any]:
    """Write the deterministic layer tar; return its descriptor (digest = diff_id)."""
    import tarfile  # here: the layer cache's hits write no tar

    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(items, key=lambda n: n.split("/")):
            item = items[name]
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = item.mode, item.uid, item.gid, 0
            info.uname = info.gname = ""
            if item.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif item.kind == "symlink":
                assert item.source is not None
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(item.source)
                tar.addfile(info)
            else:
                assert item.source is not None
                with item.source.open("rb") as handle:
                    info.size = os.fstat(handle.fileno()).st_size
                    tar.addfile(info, handle)
    with path.open("rb") as handle:
        digest, size = oci.hash_stream(handle)
    return {"mediaType": oci.MEDIA_LAYER, "digest": digest, "size": size}
