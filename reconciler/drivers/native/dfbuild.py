"""`reconcile images build`: a Dockerfile built into the native image store, RUN steps
through runc (buildrun.py), base images pulled as needed, the tags set only once the
whole build succeeded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reconciler.drivers.images.dockerfile.builder import Builder, BuildRequest, BuildResult
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.drivers.native.buildrun import RuncStepRunner
from reconciler.drivers.native.container.runtime import Runc
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ReconcileError
from reconciler.model.reference import normalize_reference


def tag_identity(ref: str) -> str:
    try:
        return f"ref:{normalize_reference(ref)}"
    except ValueError as exc:
        raise ReconcileError(f"-t {ref}: {exc}") from None


def build_dockerfile(images: ImageStore, ensure: Callable[[ImageSource], ImageRecord],
                     runc: Runc, work_root: Path, request: BuildRequest,
                     tags: Sequence[str] = (), report: Callable[[str], None] = lambda _l: None,
                     stack_images: Mapping[str, ImageSource] | None = None,
                     target: str = "build") -> BuildResult:  # fmt: skip
    """`ensure` brings a base image into `images` (the library's: import, pull, build)."""
    identities = [tag_identity(tag) for tag in tags]  # refused before anything runs

    def resolve(name: str) -> ImageRecord:
        if stack_images and name in stack_images:
            return ensure(stack_images[name])
        try:
            normal = normalize_reference(name)
        except ValueError as exc:
            raise ReconcileError(f"{name!r} is not a stage, an image key or a reference: "
                                 f"{exc}") from None
        return ensure(ImageSource(key=name, kind="ref", identity=f"ref:{normal}", ref=normal))

    builder = Builder(images, RuncStepRunner(runc, work_root), resolve, report)
    result = builder.build(request, tags[0] if tags else target)
    for identity in identities:
        images.tag(identity, result.digest)
    return result
