"""The image store plus the ways an image gets into it: imported from an OCI layout or an
archive, built declaratively, or pulled from a registry.

Kept apart from store.py so that the builder and the puller, which write into a store,
do not import the module that calls them.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.drivers.base import Progress
from reconciler.drivers.images.build import build_image
from reconciler.drivers.images.limits import UnpackLimits
from reconciler.drivers.images.store import (
    ImageRecord,
    ImageStore,
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
        always = image.kind == "ref" and image.pull == "always"
        return self.ensure_with(image, lambda: self._produce(image, progress), refresh=always)

    def _produce(self, image: ImageSource, progress: Progress | None) -> str:
        if image.kind in ("oci", "archive"):
            return self.import_path(Path(image.path), image.key, progress)
        if image.kind == "build":
            base = self.ensure(image.base, progress) if image.base is not None else None
            return str(build_image(self, image, base, progress))
        if image.pull == "never":
            raise ImageError(image.key, f"{image.ref} is not in the image store and pull is never")
        # Imported only for a pull: the registry client brings http.client and ssl.
        from reconciler.drivers.native.registry.pull import pull_image

        return pull_image(self, image.ref, image.key, self.registry, progress)
