"""Fetching and checking manifests: media types, digests, shape, platform choice.

A manifest is untrusted input. Refused: a body larger than 4 MiB, a digest differing from
the pinned one or from `Docker-Content-Digest`, a `mediaType` field disagreeing with the
Content-Type header, a document that is both an index (`manifests`) and an image manifest
(`config`/`layers`), Docker schema 1, malformed descriptor digests or sizes.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.drivers.images import oci
from reconciler.drivers.native.registry.client import RegistryClient, RegistryError
from reconciler.model.records import record

MAX_MANIFEST = 4 << 20
MAX_CONFIG = 16 << 20
ACCEPT = ", ".join((*oci.MANIFEST_TYPES, *oci.INDEX_TYPES))
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")  # fmt: skip
LAYER_TYPES = (
    oci.MEDIA_LAYER, oci.MEDIA_LAYER_GZIP, oci.MEDIA_LAYER_ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
)  # fmt: skip
GENERIC_TYPES = ("", "application/json", "application/octet-stream", "text/plain")


@record(frozen=True)
class Manifest:
    data: bytes
    digest: str
    media_type: str
    parsed: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in oci.INDEX_TYPES


def fetch_manifest(client: RegistryClient, reference: str, expected: str = "") -> Manifest:
    what = f"manifest {reference}"
    response = client.get(f"/v2/{client.repository}/manifests/{reference}", {"Accept": ACCEPT},
                          what)  # fmt: skip
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
    header_digest = response.getheader("Docker-Content-Digest") or ""
    data = client.read_body(response, MAX_MANIFEST)  # refused past 4 MiB, never buffered
    digest = oci.sha256_digest(data)
    if expected and digest != expected:
        raise RegistryError(f"manifest {expected} has digest {digest}: content does not match")
    if header_digest and header_digest != digest:
        raise RegistryError(
            f"manifest {reference}: Docker-Content-Digest {header_digest!r} does not match "
            f"its content ({digest})"
        )
    return _classify(data, digest, content_type, reference)


def _classify(data: bytes, digest: str, content_type: str, reference: str) -> Manifest:
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise RegistryError(f"manifest {reference} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise RegistryError(f"manifest {reference} is not a JSON object")
    is_index = "manifests" in parsed
    is_image = "config" in parsed or "layers" in parsed
    if is_index and is_image:
        raise RegistryError(f"manifest {reference} is both an index and an image manifest; refused")
    declared = parsed.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise RegistryError(f"manifest {reference} has a non-string mediaType")
    if declared and content_type not in GENERIC_TYPES and declared != content_type:
        raise RegistryError(
            f"manifest {reference}: mediaType {declared!r} disagrees with the Content-Type "
            f"{content_type!r}; refused"
        )
    media = declared or (content_type if content_type not in GENERIC_TYPES else "")
    if not media:
        media = oci.MEDIA_INDEX if is_index else oci.MEDIA_MANIFEST
    if media in SCHEMA1 or parsed.get("schemaVersion") == 1:
        raise RegistryError(f"manifest {reference} is Docker schema 1, which is not supported")
    mismatch = (media in oci.INDEX_TYPES and not is_index) or (
        media in oci.MANIFEST_TYPES and not is_image
    )
    if mismatch:
        raise RegistryError(f"manifest {reference}: content does not match media type {media}")
    if media not in (*oci.INDEX_TYPES, *oci.MANIFEST_TYPES):
        raise RegistryError(f"manifest {reference} has unsupported media type {media!r}")
    return Manifest(data, digest, media, parsed)


def descriptor(value: Any, what: str, max_size: int | None = None) -> dict[str, Any]:
    """A checked descriptor: sha256 digest of the right form, non-negative integer size."""
    if not isinstance(value, dict):
        raise oci.FormatError(f"{what} is not a descriptor object")
    oci.digest_hex(value.get("digest"))  # type: ignore[arg-type]  # refuses anything malformed
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise oci.FormatError(f"{what} {value.get('digest')} has an invalid size {size!r}")
    if max_size is not None and size > max_size:
        raise oci.FormatError(f"{what} {value['digest']} is larger than {max_size} bytes")
    return value


def layer_refs(manifest: Manifest) -> list[oci.LayerRef]:
    layers = manifest.parsed.get("layers")
    if not isinstance(layers, list):
        raise oci.FormatError(f"manifest {manifest.digest} has no layers list")
    refs = []
    for value in layers:
        desc = descriptor(value, "layer")
        media = str(desc.get("mediaType", oci.MEDIA_LAYER))
        if desc.get("urls") or media not in LAYER_TYPES:
            raise oci.FormatError(
                f"layer {desc['digest']} has media type {media!r}: only tar, gzip and zstd "
                "layers stored in the registry are supported"
            )
        refs.append(oci.LayerRef(str(desc["digest"]), int(desc["size"]), media))
    return refs


def choose_platform(index: Manifest, reference: str) -> dict[str, Any]:
    """The host's linux/<arch> entry of an index; a clear error listing what is offered."""
    entries = index.parsed.get("manifests")
    if not isinstance(entries, list) or not entries:
        raise oci.FormatError(f"index {reference} lists no manifests")
    usable = [e for e in entries if isinstance(e, dict) and not _attestation(e)]
    want_os, want_arch = oci.host_platform()
    for entry in usable:
        plat = entry.get("platform") or {}
        if plat.get("os") == want_os and plat.get("architecture") == want_arch:
            return descriptor(entry, "index entry", MAX_MANIFEST)
    offered = sorted({_platform_name(e) for e in usable})
    raise oci.FormatError(
        f"{reference} has no image for this host's platform {want_os}/{want_arch}; "
        f"available: {', '.join(offered) or 'none'}"
    )


def _platform_name(entry: dict[str, Any]) -> str:
    plat = entry.get("platform") or {}
    name = f"{plat.get('os', '?')}/{plat.get('architecture', '?')}"
    return f"{name}/{plat['variant']}" if plat.get("variant") else name


def _attestation(entry: dict[str, Any]) -> bool:
    annotations = entry.get("annotations") or {}
    plat = entry.get("platform") or {}
    return annotations.get("vnd.docker.reference.type") == "attestation-manifest" or (
        plat.get("os") == "unknown" and plat.get("architecture") == "unknown"
    )
