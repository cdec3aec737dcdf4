"""Where the stack pipeline meets Compose: one loaded Compose project as a `LoadedFile`
(spec/stacks.py imports this only when a Compose file is involved).

    load_compose_file(files, request) -> ComposeLoadedFile
"""

from __future__ import annotations

from pathlib import Path

from reconciler.model.records import field, record
from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.located import ComposeLoadedFile
from reconciler.spec.compose.project import ComposeOptions
from reconciler.spec.compose.to_stack import compose_loaded


@record(frozen=True)
class ComposeRequest:
    """What the command line says about Compose input: `-f` files (one project, merged),
    `-p`, `--env-file`, `--profile`, and `--strict` (ignored keys are errors)."""

    files: tuple[Path, ...] = ()
    options: ComposeOptions = field(default_factory=ComposeOptions)
    strict: bool = False


def load_compose_file(files: list[Path], request: ComposeRequest) -> ComposeLoadedFile:
    return compose_loaded(load_compose(files, request.options), request.strict)
