"""Storing a build step's result: the state as an image in the store (so its layers stay
alive), tagged as a cache entry; and reading such an entry back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

from reconciler.drivers.images import oci
from reconciler.drivers.images.dockerfile.state import BuildState
from reconciler.drivers.images.store import CACHE_PREFIX, ImageRecord, ImageStore


def cache_key(parent: BuildState, text: str, content: str = "",
              extra: dict[str, Any] | None = None) -> str:  # fmt: skip
    """Docker's idea: the parent image, the instruction after substitution, the content
    of what it copies; plus (RUN) the hashed ARG values and the network switch."""
    material = {"parent": parent.identity(), "instruction": text, "content": content,
                "extra": extra or {}}  # fmt: skip
    return hashlib.sha256(oci.canonical_json(material)).hexdigest()


def hashed_values(values: dict[str, str]) -> dict[str, str]:
    """Build-arg values enter keys only as hashes, so no key file holds a secret."""
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(values.items())}


def store_state(store: ImageStore, state: BuildState, target: str,
                new_layer: tuple[dict[str, Any], Path] | None = None) -> str:  # fmt: skip
    """Store the state as an image; returns its manifest digest."""
    config_bytes = oci.canonical_json(state.config)
    manifest_bytes = oci.build_manifest(oci.descriptor(oci.MEDIA_CONFIG, config_bytes),
                                        state.layers)  # fmt: skip

    def open_blob(digest: str) -> IO[bytes]:
        if new_layer is not None and digest == new_layer[0]["digest"]:
            return new_layer[1].open("rb")
        return store.blob_path(digest).open("rb")

    data = oci.ImageSourceData(
        manifest=manifest_bytes,
        manifest_digest=oci.sha256_digest(manifest_bytes),
        config=config_bytes,
        config_digest=oci.sha256_digest(config_bytes),
        layers=tuple(_layer_ref(d) for d in state.layers),
        open_blob=open_blob,
    )
    return store.store_image(data, target)


def _layer_ref(desc: dict[str, Any]) -> oci.LayerRef:
    return oci.LayerRef(str(desc["digest"]), int(desc["size"]), str(desc["mediaType"]))


def state_of(store: ImageStore, record: ImageRecord) -> BuildState:
    manifest = json.loads(store.read_blob(record.digest))
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    return BuildState(config, list(manifest["layers"]), list(record.layers))


def cached(store: ImageStore, key: str, parent: BuildState) -> BuildState | None:
    record = store.get(CACHE_PREFIX + key)
    if record is None:
        return None
    state = state_of(store, record)
    state.cmd_set, state.args = parent.cmd_set, dict(parent.args)
    return state


def remember(store: ImageStore, key: str, digest: str) -> None:
    store.tag(CACHE_PREFIX + key, digest)
