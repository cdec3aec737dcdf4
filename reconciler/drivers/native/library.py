"""The image store plus the ways an image gets into it: imported from an OCI layout or an
archive, built declaratively, or pulled from a registry.

Kept apart from store.py so that the builder and the puller, which write into a store,
do not import the module that calls them.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.drivers.base import Progress
from reconciler.drivers.images import oci
from reconciler.drivers.images.build import build_image
from reconciler.drivers.images.limits import UnpackLimits
from reconciler.drivers.images.store import (
    _SOURCE_ERRORS,
    ImageRecord,
    ImageStore,
    _describe,
)
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError


class ImageLibrary(ImageStore):
    def __init__(self, root: Path, registry: RegistryOptions | None = None,
                 limits: UnpackLimits | None = None) -> None:  # fmt: skip
        super().__init__(root, limits)
        self.registry = registry or RegistryOptions()

    def ensure(self, image: ImageSource, progress: Progress | None = None) -> ImageRecord:
        """The image's record, imported, built or pulled first if the store lacks it (or
        always asked of the registry for `pull: always`)."""
        with self._lock:
            existing = self.get(image.identity)
            if existing is not None and not (image.kind == "ref" and image.pull == "always"):
                return existing
            try:
                digest = self._produce(image, progress)
            except ImageError:
                raise
            except _SOURCE_ERRORS as exc:
                raise ImageError(image.key, _describe(exc)) from exc
            self._set_ref(image.identity, digest)
            record = self._load(image.identity, digest)
            if record is None:
                raise ImageError(image.key, f"image {digest} vanished from the store after import")
            return record

    def _produce(self, image: ImageSource, progress: Progress | None) -> str:
        if image.kind in ("oci", "archive"):
            return self._import(Path(image.path), image.key, progress)
        if image.kind == "build":
            base = self.ensure(image.base, progress) if image.base is not None else None
            return str(build_image(self, image, base, progress))
        if image.pull == "never":
            raise ImageError(image.key, f"{image.ref} is not in the image store and pull is never")
        # Imported only for a pull: the registry client brings http.client and ssl.
        from reconciler.drivers.native.registry.pull import pull_image

        return pull_image(self, image.ref, image.key, self.registry, progress)

    def _import(self, path: Path, target: str, progress: Progress | None) -> str:
        if not path.exists():
            raise ImageError(target, f"{path} does not exist")
        reader = oci.BlobReader(path)
        try:
            return self.store_image(oci.read_source(reader), target, progress)
        finally:
            reader.close()
