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
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError

# A ref image the engine has, written as a docker-archive at the given path (build bases).
SaveRef = Callable[[ImageSource, Path], None]


class StagingStore(ImageStore):
    def ensure(self, image: ImageSource, save_ref: SaveRef,
               progress: Progress | None = None) -> ImageRecord:
        return self.ensure_with(image, lambda: self._produce(image, save_ref, progress))

    def _produce(self, image: ImageSource, save_ref: SaveRef, progress: Progress | None) -> str:
        if image.kind in ("oci", "archive"):
            return self.import_path(Path(image.path), image.key, progress)
        if image.kind == "dockerfile":
            raise ImageError(image.key, "Dockerfile images are built by the native driver; with "
                             "--driver docker, run `docker build` and name the image in `ref:`")
        if image.kind == "build":
            base = (self.ensure(image.base, save_ref, progress)
                    if image.base is not None else None)
            return str(build_image(self, image, base, progress))
        # A ref as the base of a build: the engine pulled it; its saved archive comes in.
        saved = self.tmp_path("saved.tar")
        try:
            save_ref(image, saved)
            return self.import_path(saved, image.key, progress)
        finally:
            saved.unlink(missing_ok=True)

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
