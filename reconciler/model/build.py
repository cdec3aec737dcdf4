"""What `images build` is asked and what it answers: a Dockerfile build's request and
result, shared by the CLI, the driver contract (drivers/base.py) and the builder
(drivers/images/dockerfile/builder.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.model.records import field, record


@record(frozen=True)
class BuildRequest:
    """What to build: the context, the Dockerfile and the build's options."""

    context: Path
    dockerfile: Path | None = None  # None: <context>/Dockerfile
    args: Mapping[str, str] = field(default_factory=dict)  # --build-arg; values never logged
    target: str | None = None
    no_cache: bool = False
    network: bool = False
    source_date_epoch: int | None = None  # None: $SOURCE_DATE_EPOCH, else 0

    @property
    def dockerfile_path(self) -> Path:
        return self.dockerfile or self.context / "Dockerfile"


@record(frozen=True)
class StepReport:
    """How one layer step went."""

    line: int
    text: str  # the instruction as written (build-arg values are not in it)
    cached: bool  # a layer step served from the cache
    ran: bool  # a layer step executed (not cached)


@record
class BuildResult:
    """The built image's digest, its steps and the --build-args no ARG used."""

    digest: str = ""
    steps: list[StepReport] = field(default_factory=list)
    unused_args: list[str] = field(default_factory=list)
