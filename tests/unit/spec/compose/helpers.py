"""Writing small Compose projects for the loader's tests."""

from __future__ import annotations

from pathlib import Path

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions, ComposeProject


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(folder: Path, files: dict[str, str], *order: str,
         **options: object) -> ComposeProject:
    """Write `files` into `folder` and load the `order` files (default: the first)."""
    write(folder, files)
    names = order or (next(iter(files)),)
    environ = options.pop("environ", {})
    return load_compose([folder / n for n in names],
                        ComposeOptions(environ=environ, **options))  # type: ignore[arg-type]


def errors(project: ComposeProject) -> list[str]:
    return [f"{Path(p.file).name}:{p.line}:{p.column}: {p.message}"
            for p in project.problems if p.severity == "error"]


def warnings(project: ComposeProject) -> list[str]:
    return [f"{Path(p.file).name}:{p.line}:{p.column}: {p.message}"
            for p in project.problems if p.severity == "warning"]
