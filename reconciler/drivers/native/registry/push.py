"""Push one image of the store to a registry: layers, then config, then the manifest.

The blobs are sent as the store keeps them (the compressed layer blobs a pull verified,
the exact manifest bytes), so the pushed manifest digest is the store's: pushing the
same image twice, or an image pulled elsewhere, gives the same digest. Layers go up in
parallel (`RegistryOptions.parallel`); a layer the store knows from another repository
on the same registry (a `ref:` identity there whose manifest lists it) is mounted from
there instead of sent. The manifest is put last, with its own media type, and the digest
the registry answers must be ours. Once pushed, the reference is recorded in refs.json
(the image is now known under that name, as `docker push` needs it tagged first).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.drivers.base import Progress
from reconciler.drivers.images import oci
from reconciler.drivers.images.refs import local_digest
from reconciler.drivers.images.store import ImageStore
from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.blobpush import Blob, answer_detail, failure, push_blob
from reconciler.drivers.native.registry.client import RegistryError
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.drivers.native.registry.progress import push_reporter
from reconciler.drivers.native.registry.upload import PushClient
from reconciler.model.errors import ImageError
from reconciler.model.reference import Reference, parse_reference
from reconciler.support.logsetup import logger


def push_image(store: ImageStore, ref_text: str, source: str, options: RegistryOptions,
               progress: Progress | None = None) -> str:  # fmt: skip
    """Push the store's image `source` (an identity, a reference or a manifest digest)
    as `ref_text`; return the pushed `name@sha256:...`. Errors are ImageErrors."""
    try:
        ref = parse_reference(ref_text)
    except ValueError as exc:
        raise ImageError(ref_text, str(exc)) from None
    digest = local_digest(store.identities(), source)
    manifest = store.read_blob(digest)
    parsed = json.loads(manifest)
    blobs = _blobs(store, parsed, ref_text)
    mounts = mount_sources(store, ref)
    client = PushClient(ref.domain, ref.path, options, auth.load_credentials(options.config_path),
                        tuple({mounts[b.digest] for b in blobs if b.digest in mounts}))
    started = time.monotonic()
    try:
        with push_reporter(str(ref), progress) as report:
            outcomes = _push_blobs(client, blobs, mounts, report, options.parallel)
            _put_manifest(client, ref, manifest, _media_type(parsed), digest)
    except RegistryError as exc:
        raise ImageError(ref_text, str(exc)) from None
    except OSError as exc:
        raise ImageError(ref_text, f"{ref}: {exc.strerror or exc}") from None
    finally:
        client.close()
    store.tag(f"ref:{ref}", digest)
    logger().info("image pushed", image=str(ref), digest=digest,
                  seconds=round(time.monotonic() - started, 3),
                  **{k: outcomes.count(k) for k in ("uploaded", "mounted", "exists")})  # fmt: skip
    return f"{ref.repository}@{digest}"


def mount_sources(store: ImageStore, ref: Reference) -> dict[str, str]:
    """blob digest -> another repository on `ref`'s registry that has it (by the store's
    `ref:` identities: what was pulled from or pushed there)."""
    found: dict[str, str] = {}
    for identity, digest in sorted(store.identities().items()):
        if not identity.startswith("ref:"):
            continue
        try:
            other = parse_reference(identity.removeprefix("ref:"))
            manifest = json.loads(store.read_blob(digest))
            blobs = [*(manifest.get("layers") or []), manifest.get("config")]
        except (ValueError, OSError, AttributeError, oci.FormatError):
            continue
        if other.domain != ref.domain or other.path == ref.path:
            continue
        for layer in blobs:
            if isinstance(layer, dict) and isinstance(layer.get("digest"), str):
                found.setdefault(layer["digest"], other.path)
    return found


def _blobs(store: ImageStore, manifest: dict[str, Any], target: str) -> list[Blob]:
    """The layers and the config, each present in the store with its declared size."""
    try:
        descs = [(d, "layer") for d in manifest["layers"]] + [(manifest["config"], "config")]
        blobs = [Blob(str(d["digest"]), int(d["size"]), store.blob_path(str(d["digest"])), kind)
                 for d, kind in descs]  # fmt: skip
    except (KeyError, TypeError, ValueError, oci.FormatError) as exc:
        raise ImageError(target, f"the stored manifest is not an image manifest: {exc}") from None
    for blob in blobs:
        try:
            size = blob.path.stat().st_size
        except OSError:
            raise ImageError(target, f"{blob.what} is missing from the image store") from None
        if size != blob.size:
            raise ImageError(target, f"{blob.what} in the store has {size} bytes, the manifest "
                             f"says {blob.size}")  # fmt: skip
    return blobs


def _push_blobs(client: PushClient, blobs: list[Blob], mounts: dict[str, str],
                report: Progress, parallel: int) -> list[str]:  # fmt: skip
    """Layers in parallel, then the config (small: after the layers, like Docker)."""
    layers = list({b.digest: b for b in blobs if b.kind == "layer"}.values())
    config = [b for b in blobs if b.kind == "config"]

    def one(blob: Blob) -> str:
        try:
            return push_blob(client, blob, mounts.get(blob.digest, ""),
                             lambda done: report(blob.what, done, blob.size))  # fmt: skip
        except BaseException:
            client.watchdog.stop_all("stopped: another blob of this image failed")
            raise

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(layers) or 1))) as pool:
        outcomes = list(pool.map(one, layers))
    return outcomes + [one(b) for b in config]


def _put_manifest(client: PushClient, ref: Reference, manifest: bytes, media_type: str,
                  digest: str) -> None:  # fmt: skip
    target = ref.digest or ref.tag or "latest"
    if ref.digest and ref.digest != digest:
        raise RegistryError(f"{ref}: the image's digest is {digest}, not the one named")
    response = client.send("PUT", f"/v2/{client.repository}/manifests/{target}",
                           {"Content-Type": media_type}, manifest, "the manifest")  # fmt: skip
    status, answered = response.status, response.getheader("Docker-Content-Digest") or ""
    detail = answer_detail(client, response)
    if status != 201:
        raise failure(client, status, "the manifest", detail)
    if answered and answered != digest:
        raise RegistryError(f"registry {client.host} stored the manifest of {ref} as "
                            f"{answered}, but its digest is {digest}; refused")  # fmt: skip


def _media_type(manifest: dict[str, Any]) -> str:
    media = manifest.get("mediaType")
    return media if isinstance(media, str) and media else oci.MEDIA_MANIFEST
