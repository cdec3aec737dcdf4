"""Pull one image: resolve the reference, fetch config, stream layers into the store.

The store stays the single writer of blobs and layers: this module only fetches and
hands untrusted streams to `ImageStore.add_layer` / `add_blob`, which verify. Layers are
fetched in parallel (`RegistryOptions.parallel`), each in one pass (download -> hash ->
decompress -> unpack). A layer the store already has is not fetched, so a pull that was
interrupted resumes with the layers it had not finished.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from reconciler.drivers.base import Progress
from reconciler.drivers.images import oci
from reconciler.drivers.images.heap import large_buffers
from reconciler.drivers.images.limits import Budget
from reconciler.drivers.images.store import ImageStore
from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.client import RegistryClient, RegistryError
from reconciler.drivers.native.registry.manifest import (
    MAX_CONFIG,
    Manifest,
    choose_platform,
    descriptor,
    fetch_manifest,
    layer_refs,
)
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.drivers.native.registry.progress import reporter
from reconciler.model.errors import ImageError
from reconciler.model.reference import Reference, parse_reference
from reconciler.support.logsetup import logger

MAX_INDEX_DEPTH = 4


def pull_image(store: ImageStore, ref_text: str, target: str, options: RegistryOptions,
               progress: Progress | None = None) -> str:  # fmt: skip
    """Pull `ref_text` into `store`; return the manifest digest. Errors are ImageErrors."""
    try:
        ref = parse_reference(ref_text)
    except ValueError as exc:
        raise ImageError(target, str(exc)) from None
    credentials = auth.load_credentials(options.config_path)
    client = RegistryClient(ref.domain, ref.path, options, credentials)
    started = time.monotonic()
    try:
        with reporter(str(ref), progress) as report:
            manifest = resolve(client, ref)
            fetched = _fetch_image(store, client, manifest, target, report, options.parallel)
    except RegistryError as exc:
        raise ImageError(target, str(exc)) from None
    except (oci.FormatError, ValueError, KeyError, TypeError) as exc:
        raise ImageError(target, f"{ref}: {exc}") from None
    except OSError as exc:
        raise ImageError(target, f"{ref}: {exc.strerror or exc}") from None
    finally:
        client.close()
    logger().info("image pulled", image=str(ref), digest=manifest.digest, layers_fetched=fetched,
                  seconds=round(time.monotonic() - started, 3))  # fmt: skip
    return manifest.digest


def resolve(client: RegistryClient, ref: Reference) -> Manifest:
    """The image manifest for this host, following an index (and nested indexes)."""
    manifest = fetch_manifest(client, ref.digest or ref.tag, expected=ref.digest)
    for _ in range(MAX_INDEX_DEPTH):
        if not manifest.is_index:
            return manifest
        entry = choose_platform(manifest, str(ref))
        manifest = fetch_manifest(client, str(entry["digest"]), expected=str(entry["digest"]))
    raise RegistryError(f"{ref}: indexes nested more than {MAX_INDEX_DEPTH} deep")


def _fetch_image(store: ImageStore, client: RegistryClient, manifest: Manifest, target: str,
                 report: Progress, parallel: int) -> int:  # fmt: skip
    """Fetch what the store lacks; return how many layers were downloaded."""
    config_desc = descriptor(manifest.parsed.get("config"), "config", MAX_CONFIG)
    layers = layer_refs(manifest)
    config_digest = str(config_desc["digest"])
    if store.blob_path(config_digest).is_file():
        config = store.read_blob(config_digest)
    else:
        config = _fetch_small(client, config_digest, int(config_desc["size"]))
    diff_ids = _diff_ids(json.loads(config), len(layers))
    missing: dict[str, tuple[oci.LayerRef, str]] = {}
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        if not store.has_layer(layer.digest, diff_id):
            missing.setdefault(diff_id, (layer, diff_id))
    _fetch_layers(store, client, list(missing.values()), target, report, parallel)
    store.add_blob(config, config_digest)
    store.add_blob(manifest.data, manifest.digest)
    return len(missing)


def _diff_ids(config: Any, count: int) -> list[str]:
    try:
        diff_ids = config["rootfs"]["diff_ids"]
    except (KeyError, TypeError):
        raise oci.FormatError("image config has no rootfs.diff_ids") from None
    if not isinstance(diff_ids, list) or len(diff_ids) != count:
        raise oci.FormatError(f"image config lists {len(diff_ids)} diff_ids for {count} layers")
    for diff_id in diff_ids:
        oci.digest_hex(diff_id)
    return [str(d) for d in diff_ids]


def _fetch_small(client: RegistryClient, digest: str, size: int) -> bytes:
    response = client.get(f"/v2/{client.repository}/blobs/{digest}", what=f"config {digest}")
    try:
        data = client.read_body(response, size)
    except RegistryError as exc:
        raise RegistryError(f"config blob {digest}: body is longer than the declared {size} "
                            f"bytes; refused ({exc})") from None
    oci.check_blob(data, {"digest": digest, "size": size})
    return data


def _fetch_layers(store: ImageStore, client: RegistryClient,
                  todo: list[tuple[oci.LayerRef, str]], target: str, report: Progress,
                  parallel: int) -> None:  # fmt: skip
    if not todo:
        return
    budget = store.budget(sum(layer.size for layer, _d in todo), target)  # one per image
    workers = max(1, min(parallel, len(todo)))
    with large_buffers(), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_fetch_layer, store, client, layer, diff_id, target, report,
                               budget) for layer, diff_id in todo]  # fmt: skip
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f.exception() for f in futures if f in done and f.exception() is not None]
        for future in pending:
            future.cancel()
        if failed:  # the pull is lost: stop the layers still downloading now
            client.watchdog.stop_all("stopped: another layer of this image failed")
            raise failed[0]  # type: ignore[misc]
        for future in futures:
            future.result()


def _fetch_layer(store: ImageStore, client: RegistryClient, layer: oci.LayerRef, diff_id: str,
                 target: str, report: Progress, budget: Budget) -> None:  # fmt: skip
    response = client.get(f"/v2/{client.repository}/blobs/{layer.digest}",
                          what=f"layer {layer.digest}")  # fmt: skip
    complete = False
    try:
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) != layer.size:
            raise oci.FormatError(
                f"layer blob {layer.digest}: registry sends {length} bytes, the manifest "
                f"declares {layer.size}; refused"
            )
        store.add_layer(layer, diff_id, response, target, report, budget)  # type: ignore[arg-type]
        complete = True
    finally:
        client.release(response, reusable=complete)
