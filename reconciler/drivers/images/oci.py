"""OCI image layout and archive reading and writing, media types and digest helpers.

Sources are read through a `BlobReader` (a folder or a tar file) so that the OCI layout,
the `oci-archive` tar and the `docker-archive` tar all reduce to the same `ImageSourceData`:
manifest bytes, config bytes and the layer descriptors with a way to open each blob.
Nothing here writes into the image store; `images.py` verifies and stores.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from reconciler.model.records import record
from reconciler.support import atomic

# tarfile (an archive source) and platform (scratch images) where used: the build cache
# reads and writes only JSON and blobs.
if TYPE_CHECKING:
    import tarfile

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MEDIA_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (MEDIA_MANIFEST, DOCKER_MANIFEST)
LAYOUT_VERSION = "1.0.0"

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
# platform.machine() -> GOARCH, as used in OCI platform objects.
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


class FormatError(Exception):
    """The source is not a valid image; images.py turns this into ImageError."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of a "sha256:<hex>" digest; anything else is refused (no path tricks)."""
    match = _DIGEST.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise FormatError(f"unsupported or malformed digest {digest!r} (expected sha256:<64 hex>)")
    return match.group(1)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: the same object always gives the same bytes, hence digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def host_platform() -> tuple[str, str]:
    import platform

    machine = platform.machine().lower()
    return "linux", _ARCH.get(machine, machine)


def descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


@record(frozen=True)
class LayerRef:
    """A layer blob as a manifest names it."""

    digest: str
    size: int
    media_type: str


@record(frozen=True)
class ImageSourceData:
    """One image as read from a source, not yet verified."""

    manifest: bytes
    manifest_digest: str
    config: bytes
    config_digest: str
    layers: tuple[LayerRef, ...]
    open_blob: Callable[[str], IO[bytes]]  # digest -> readable stream of the stored bytes


class BlobReader:
    """Named files of a source: a folder (OCI layout) or the members of a tar."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if not path.is_dir():
            import tarfile

            try:
                self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by close())
            except (tarfile.TarError, OSError) as exc:
                raise FormatError(f"{path} is neither a folder nor a readable tar: {exc}") from exc
            for member in self._tar.getmembers():
                if member.isreg():
                    self._members[_clean(member.name)] = member

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def exists(self, name: str) -> bool:
        if self._tar is not None:
            return _clean(name) in self._members
        return (self.path / _clean(name)).is_file()

    def open(self, name: str) -> IO[bytes]:
        clean = _clean(name)
        if self._tar is None:
            try:
                return (self.path / clean).open("rb")
            except OSError as exc:
                raise FormatError(f"{self.path}: cannot read {clean}: {exc.strerror}") from exc
        member = self._members.get(clean)
        stream = self._tar.extractfile(member) if member is not None else None
        if stream is None:
            raise FormatError(f"{self.path}: archive has no file {clean}")
        return stream

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise FormatError(f"{self.path}: {_clean(name)} is larger than {limit} bytes")
        return data

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as exc:
            raise FormatError(f"{self.path}: {_clean(name)} is not valid JSON: {exc}") from exc


def _clean(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FormatError(f"refusing file name with '..': {name!r}")
    return "/".join(parts)


def blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest_hex(digest)}"


def is_oci_layout(reader: BlobReader) -> bool:
    return reader.exists("index.json") and reader.exists("oci-layout")


def read_source(reader: BlobReader) -> ImageSourceData:
    """Read an OCI layout (folder or oci-archive) or a docker-archive, whichever it is."""
    if is_oci_layout(reader):
        return read_oci_layout(reader)
    if reader.exists("manifest.json"):
        return read_docker_archive(reader)
    raise FormatError(
        f"{reader.path}: not an OCI image layout (index.json + oci-layout) "
        "nor a docker-archive (manifest.json)"
    )


def read_oci_layout(reader: BlobReader) -> ImageSourceData:
    layout = reader.read_json("oci-layout")
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise FormatError(f"{reader.path}: oci-layout has no imageLayoutVersion")
    chosen = select_manifest(reader.read_json("index.json"), str(reader.path))
    # An index may point at a nested index (docker buildx does); follow it a few levels.
    for _ in range(4):
        if chosen.get("mediaType") not in INDEX_TYPES:
            break
        nested = json.loads(_read_verified(reader, chosen))
        chosen = select_manifest(nested, str(reader.path))
    manifest_bytes = _read_verified(reader, chosen)
    return _from_manifest(reader, manifest_bytes, str(chosen["digest"]))


def _read_verified(reader: BlobReader, desc: Mapping[str, Any]) -> bytes:
    digest = str(desc.get("digest", ""))
    data = reader.read(blob_name(digest))
    check_blob(data, desc)
    return data


def check_blob(data: bytes, desc: Mapping[str, Any]) -> None:
    actual = sha256_digest(data)
    if actual != desc.get("digest"):
        raise FormatError(f"blob {desc.get('digest')} has digest {actual}: content does not match")
    if desc.get("size") is not None and desc["size"] != len(data):
        raise FormatError(
            f"blob {desc.get('digest')} has {len(data)} bytes, expected {desc['size']}"
        )


def select_manifest(index: Any, where: str) -> dict[str, Any]:
    """The manifest for the host platform, or the only one the index holds."""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise FormatError(f"{where}: index.json lists no manifests")
    usable = [m for m in manifests if isinstance(m, dict) and not _is_attestation(m)]
    if len(usable) == 1:
        return usable[0]
    want_os, want_arch = host_platform()
    matching = [
        m
        for m in usable
        if (m.get("platform") or {}).get("os") == want_os
        and (m.get("platform") or {}).get("architecture") == want_arch
    ]
    if matching:
        return matching[0]
    offered = sorted(
        "{os}/{architecture}".format(
            **{"os": "?", "architecture": "?", **(m.get("platform") or {})}
        )
        for m in usable
    )
    raise FormatError(
        f"{where}: no manifest for {want_os}/{want_arch} among {len(usable)}: {', '.join(offered)}"
    )


def _is_attestation(desc: Mapping[str, Any]) -> bool:
    annotations = desc.get("annotations") or {}
    plat = desc.get("platform") or {}
    return annotations.get("vnd.docker.reference.type") == "attestation-manifest" or (
        plat.get("os") == "unknown" and plat.get("architecture") == "unknown"
    )


def _from_manifest(reader: BlobReader, manifest_bytes: bytes, digest: str) -> ImageSourceData:
    try:
        manifest = json.loads(manifest_bytes)
        config_desc = manifest["config"]
        layer_descs = manifest["layers"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"manifest {digest} is not an image manifest: {exc}") from exc
    config = _read_verified(reader, config_desc)
    layers = tuple(
        LayerRef(str(d["digest"]), int(d["size"]), str(d.get("mediaType", MEDIA_LAYER)))
        for d in layer_descs
    )
    return ImageSourceData(
        manifest=manifest_bytes,
        manifest_digest=digest,
        config=config,
        config_digest=str(config_desc["digest"]),
        layers=layers,
        open_blob=lambda d: reader.open(blob_name(d)),
    )


def read_docker_archive(reader: BlobReader) -> ImageSourceData:
    """`docker save` output: manifest.json -> config file + layer tars; builds an OCI manifest."""
    entries = reader.read_json("manifest.json")
    if not isinstance(entries, list) or len(entries) != 1:
        count = len(entries) if isinstance(entries, list) else 0
        raise FormatError(
            f"{reader.path}: docker-archive must hold exactly one image, found {count}"
        )
    entry = entries[0]
    try:
        config_name = str(entry["Config"])
        layer_names = [str(n) for n in entry["Layers"]]
    except (KeyError, TypeError) as exc:
        raise FormatError(f"{reader.path}: manifest.json entry lacks {exc}") from exc
    config = reader.read(config_name)
    by_digest: dict[str, str] = {}
    layers: list[LayerRef] = []
    for name in layer_names:
        digest, size = hash_stream(reader.open(name))
        by_digest[digest] = name
        layers.append(LayerRef(digest, size, MEDIA_LAYER))
    manifest = build_manifest(descriptor(MEDIA_CONFIG, config), [_layer_desc(x) for x in layers])
    return ImageSourceData(
        manifest=manifest,
        manifest_digest=sha256_digest(manifest),
        config=config,
        config_digest=sha256_digest(config),
        layers=tuple(layers),
        open_blob=lambda d: reader.open(by_digest[d]),
    )


def _layer_desc(layer: LayerRef) -> dict[str, Any]:
    return {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}


def hash_stream(stream: IO[bytes]) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size


def build_manifest(
    config_desc: Mapping[str, Any], layer_descs: Iterable[Mapping[str, Any]]
) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": dict(config_desc),
            "layers": [dict(d) for d in layer_descs],
        }
    )


def write_layout(
    outdir: Path,
    manifest: bytes,
    blobs: Iterable[bytes],
    annotations: Mapping[str, str] | None = None,
) -> str:
    """Write (or refresh) an OCI layout folder holding one manifest; return its digest.

    Deterministic: the same manifest and blobs give byte-identical files. Blobs already
    present are left alone (content-addressed), files are replaced atomically."""
    blob_dir = outdir / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for data in (manifest, *blobs):
        target = blob_dir / digest_hex(sha256_digest(data))
        if not target.is_file() or target.stat().st_size != len(data):
            atomic.write_bytes(target, data)
    desc = descriptor(MEDIA_MANIFEST, manifest)
    if annotations:
        desc["annotations"] = dict(annotations)
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [desc]}
    layout = canonical_json({"imageLayoutVersion": LAYOUT_VERSION})
    atomic.write_bytes(outdir / "oci-layout", layout)
    atomic.write_bytes(outdir / "index.json", canonical_json(index))
    return str(desc["digest"])
