"""Helpers to craft OCI layouts, oci-archive and docker-archive tars for tests.

Layers are described as lists of `Entry`, so tests can build malicious tars (absolute
names, `..`, devices, links escaping the layer) as easily as ordinary ones.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.drivers.images import oci


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str = "file"  # file | dir | symlink | hardlink | char | block | fifo
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_700_000_000
    xattrs: dict[str, str] = field(default_factory=dict)
    device: tuple[int, int] = (0, 0)  # char / block: (major, minor)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def file(name: str, data: bytes = b"", mode: int = 0o644, **kw: Any) -> Entry:
    return Entry(name, "file", data, mode=mode, **kw)


def directory(name: str, mode: int = 0o755, **kw: Any) -> Entry:
    return Entry(name, "dir", mode=mode, **kw)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, "symlink", linkname=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, "hardlink", linkname=target)


def layer_tar(entries: list[Entry]) -> bytes:
    """An uncompressed tar holding `entries` in the given order, names untouched."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TYPES[entry.kind]
            info.mode = entry.mode
            info.uid, info.gid, info.mtime = entry.uid, entry.gid, entry.mtime
            info.linkname = entry.linkname
            info.devmajor, info.devminor = entry.device
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


@dataclass
class Layer:
    blob: bytes  # as stored (maybe gzip)
    diff_id: str  # sha256 of the uncompressed tar
    media_type: str


def make_layer(entries: list[Entry], compress: bool = False) -> Layer:
    tar = layer_tar(entries)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    if compress:
        return Layer(gzip.compress(tar, mtime=0), diff_id, oci.MEDIA_LAYER_GZIP)
    return Layer(tar, diff_id, oci.MEDIA_LAYER)


def make_config(layers: list[Layer], config: dict[str, Any] | None = None, **top: Any) -> bytes:
    os_name, arch = oci.host_platform()
    document: dict[str, Any] = {
        "architecture": arch,
        "os": os_name,
        "config": config if config is not None else {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        **top,
    }
    return oci.canonical_json(document)


def image_parts(
    layers: list[list[Entry]], compress: bool = False, config: dict[str, Any] | None = None
) -> tuple[bytes, bytes, list[Layer]]:
    """(manifest, config, layers) of an image made of `layers`."""
    made = [make_layer(entries, compress) for entries in layers]
    config_bytes = make_config(made, config)
    manifest = oci.build_manifest(
        oci.descriptor(oci.MEDIA_CONFIG, config_bytes),
        [oci.descriptor(layer.media_type, layer.blob) for layer in made],
    )
    return manifest, config_bytes, made


def write_oci_layout(
    outdir: Path,
    layers: list[list[Entry]],
    compress: bool = False,
    config: dict[str, Any] | None = None,
) -> str:
    """An OCI image layout folder; returns the manifest digest."""
    manifest, config_bytes, made = image_parts(layers, compress, config)
    return oci.write_layout(outdir, manifest, [config_bytes, *(layer.blob for layer in made)])


def tar_directory(folder: Path, archive: Path) -> Path:
    """Pack a folder's files (an OCI layout) into an oci-archive tar."""
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive


def write_oci_archive(archive: Path, layers: list[list[Entry]], compress: bool = False) -> str:
    staging = archive.with_name(archive.name + ".d")
    digest = write_oci_layout(staging, layers, compress)
    tar_directory(staging, archive)
    return digest


def write_docker_archive(
    archive: Path, layers: list[list[Entry]], config: dict[str, Any] | None = None
) -> bytes:
    """A `docker save` style tar (layers uncompressed); returns the config bytes."""
    made = [make_layer(entries) for entries in layers]
    config_bytes = make_config(made, config)
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    files: dict[str, bytes] = {config_name: config_bytes}
    layer_names = []
    for index, layer in enumerate(made):
        name = f"{index:064x}/layer.tar"
        files[name] = layer.blob
        layer_names.append(name)
    manifest = [{"Config": config_name, "RepoTags": ["test:latest"], "Layers": layer_names}]
    files["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(archive, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return config_bytes


def corrupt_blob(layout: Path, digest: str) -> None:
    """Flip one byte of a blob without changing its size."""
    path = layout / "blobs" / "sha256" / oci.digest_hex(digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
