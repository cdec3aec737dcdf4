"""The image store plus the ways an image gets into it: imported from an OCI layout or an
archive, built declaratively, or pulled from a registry.

Kept apart from store.py so that the builder and the puller, which write into a store,
do not import the module that calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.drivers.images.store import (
    ImageRecord,
    ImageStore,
)
from reconciler.model.errors import ImageError

# What only an import, a declarative build or a pull needs is imported there: a Dockerfile
# rebuild served from the cache opens the library and nothing else.
if TYPE_CHECKING:
    from reconciler.drivers.base import Progress
    from reconciler.drivers.images.limits import UnpackLimits
    from reconciler.drivers.native.container.runtime import Runc
    from reconciler.drivers.native.registry.options import RegistryOptions
    from reconciler.model.desired import ImageSource


class ImageLibrary(ImageStore):
    def __init__(self, root: Path, registry: RegistryOptions | None = None,
                 limits: UnpackLimits | None = None,
                 runc: Callable[[], Runc] | None = None) -> None:  # fmt: skip
        super().__init__(root, limits)
        self._registry = registry
        self.runc = runc  # the driver's runtime, for the RUN steps of Dockerfile images

    @property
    def registry(self) -> RegistryOptions:
        if self._registry is None:
            from reconciler.drivers.native.registry.options import RegistryOptions

            self._registry = RegistryOptions()
        return self._registry

    def ensure(self, image: ImageSource, progress: Progress | None = None) -> ImageRecord:
        """The image's record, imported, built or pulled first if the store lacks it (or
        always asked of the registry for `pull: always`)."""
        always = image.kind == "ref" and image.pull == "always"
        return self.ensure_with(image, lambda: self._produce(image, progress), refresh=always)

    def _produce(self, image: ImageSource, progress: Progress | None) -> str:
        if image.kind in ("oci", "archive"):
            return self.import_path(Path(image.path), image.key, progress)
        if image.kind == "build":
            from reconciler.drivers.images.build import build_image

            base = self.ensure(image.base, progress) if image.base is not None else None
            return str(build_image(self, image, base, progress))
        if image.kind == "dockerfile":
            return self._build_dockerfile(image, progress)
        if image.pull == "never":
            raise ImageError(image.key, f"{image.ref} is not in the image store and pull is never")
        # Imported only for a pull: the registry client brings http.client and ssl.
        from reconciler.drivers.native.registry.pull import pull_image

        return pull_image(self, image.ref, image.key, self.registry, progress)

    def _build_dockerfile(self, image: ImageSource, progress: Progress | None) -> str:
        """A stack's Dockerfile image; the identity is tagged by ensure() once it is built."""
        from reconciler.drivers.native.dfbuild import build_dockerfile
        from reconciler.model.build import BuildRequest

        spec = image.dockerfile
        if spec is None or self.runc is None:
            raise ImageError(image.key, "a Dockerfile build needs the native driver's runtime")
        request = BuildRequest(Path(spec.context), Path(spec.dockerfile), dict(spec.args),
                               spec.target, network=spec.network)  # fmt: skip
        bases = {base.key: base for base in image.bases}
        result = build_dockerfile(self, self.ensure, self.runc, self.root.parent / "build",
                                  request, stack_images=bases, target=image.key)  # fmt: skip
        return result.digest
