"""`reconcile images build`: a Dockerfile built into the native image store, RUN steps
through runc (buildrun.py), base images pulled as needed, the tags set only once the
whole build succeeded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.drivers.images.dockerfile.builder import Builder
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.model.build import BuildRequest, BuildResult
from reconciler.model.errors import ReconcileError
from reconciler.model.reference import normalize_reference

if TYPE_CHECKING:
    from reconciler.drivers.images.dockerfile.runner import RunJob, RunOutcome
    from reconciler.drivers.native.buildrun import RuncStepRunner
    from reconciler.drivers.native.container.runtime import Runc
    from reconciler.model.desired import ImageSource


class LazyRunner:
    """The runc step runner, imported and made on first use: a build served from the cache
    never loads the bundle, seccomp and mount code."""

    def __init__(self, runc: Callable[[], Runc], work_root: Path) -> None:
        self.runc, self.work_root = runc, work_root  # finding the runtime runs it: later
        self._runner: RuncStepRunner | None = None

    def _get(self) -> RuncStepRunner:
        if self._runner is None:
            from reconciler.drivers.native.buildrun import RuncStepRunner

            self._runner = RuncStepRunner(self.runc(), self.work_root)
        return self._runner

    def run(self, job: RunJob) -> RunOutcome:
        return self._get().run(job)

    def resolve_user(self, user: str, layers: Sequence[Path]) -> tuple[int, int]:
        return self._get().resolve_user(user, layers)

    def view(self, layers: Sequence[Path]) -> AbstractContextManager[Path]:
        return self._get().view(layers)


def tag_identity(ref: str) -> str:
    try:
        return f"ref:{normalize_reference(ref)}"
    except ValueError as exc:
        raise ReconcileError(f"-t {ref}: {exc}") from None


def build_dockerfile(images: ImageStore, ensure: Callable[[ImageSource], ImageRecord],
                     runc: Callable[[], Runc], work_root: Path, request: BuildRequest,
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
        # A base the store has is what ensure() would answer (pull: missing): read from
        # refs.json without the model's ImageSource or the library's import and pull code.
        present = images.get(f"ref:{normal}")
        if present is not None:
            return present
        from reconciler.model.desired import ImageSource

        return ensure(ImageSource(key=name, kind="ref", identity=f"ref:{normal}", ref=normal))

    builder = Builder(images, LazyRunner(runc, work_root), resolve, report)
    result = builder.build(request, tags[0] if tags else target)
    for identity in identities:
        images.tag(identity, result.digest)
    return result
