"""Where oci / archive / build images are made before the engine gets them: the shared
image store (drivers/images), in `<state-dir>/docker/staging`. The store verifies every
blob and gives the same manifest digest as the native driver's store for the same image,
which is the digest the planner compares. The engine then loads a docker-archive
assembled from the stored blobs (`docker load`: Docker 20.10 loads no OCI layout).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from reconciler.drivers.base import Progress
from reconciler.drivers.images import oci
from reconciler.drivers.images.build import build_image
from reconciler.drivers.images.store import _SOURCE_ERRORS, ImageRecord, ImageStore, _describe
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError

# A ref image the engine has, written as a docker-archive at the given path (build bases).
SaveRef = Callable[[ImageSource, Path], None]


class StagingStore(ImageStore):
    def ensure(self, image: ImageSource, save_ref: SaveRef,
               progress: Progress | None = None) -> ImageRecord:
        with self._lock:
            existing = self.get(image.identity)
            if existing is not None:
                return existing
            try:
                digest = self._produce(image, save_ref, progress)
            except ImageError:
                raise
            except _SOURCE_ERRORS as exc:
                raise ImageError(image.key, _describe(exc)) from exc
            self._set_ref(image.identity, digest)
            record = self._load(image.identity, digest)
            if record is None:
                raise ImageError(image.key, f"image {digest} vanished from the staging store")
            return record

    def _produce(self, image: ImageSource, save_ref: SaveRef, progress: Progress | None) -> str:
        if image.kind in ("oci", "archive"):
            return self._import(Path(image.path), image.key, progress)
        if image.kind == "build":
            base = (self.ensure(image.base, save_ref, progress)
                    if image.base is not None else None)
            return str(build_image(self, image, base, progress))
        # A ref as the base of a build: the engine pulled it; its saved archive comes in.
        saved = self.tmp_path("saved.tar")
        try:
            save_ref(image, saved)
            return self._import(saved, image.key, progress)
        finally:
            saved.unlink(missing_ok=True)

    def _import(self, path: Path, target: str, progress: Progress | None) -> str:
        if not path.exists():
            raise ImageError(target, f"{path} does not exist")
        reader = oci.BlobReader(path)
        try:
            return self.store_image(oci.read_source(reader), target, progress)
        finally:
            reader.close()

    def write_docker_archive(self, digest: str, tag: str, out: IO[bytes]) -> int:
        """The image `digest` as a docker-archive (manifest.json, config, layer blobs as
        stored: the engine decompresses them) tagged `tag`; returns its size in bytes."""
        manifest = json.loads(self.read_blob(digest))
        config_hex = oci.digest_hex(manifest["config"]["digest"])
        layers = [oci.digest_hex(layer["digest"]) for layer in manifest["layers"]]
        index = [{"Config": f"{config_hex}.json", "RepoTags": [tag],
                  "Layers": [f"{hex_}/layer.tar" for hex_ in layers]}]
        with tarfile.open(fileobj=out, mode="w|") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(index).encode())
            tar.add(self.blob_path(manifest["config"]["digest"]), f"{config_hex}.json")
            for hex_ in dict.fromkeys(layers):  # a layer used twice is stored once
                tar.add(self.blobs / hex_, f"{hex_}/layer.tar")
        return out.tell()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
