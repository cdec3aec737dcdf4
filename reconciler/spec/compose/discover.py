"""Which files and which name a Compose project has when the command line does not say.

Files: `COMPOSE_FILE` (separated by `COMPOSE_PATH_SEPARATOR`, default `:`), else the first of
compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in the folder or the
nearest parent that has one, plus the first matching override file next to it.
`looks_like_compose` tells a Compose file from a stack file.
Name: `-p`, else `COMPOSE_PROJECT_NAME` (both must already be valid), else the top-level
`name:` of the last file that sets one, else the project folder's name (both normalized).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")


def find_compose_files(folder: Path, environ: Mapping[str, str]) -> tuple[list[Path], str | None]:
    """The default `-f` files for `folder`, and a warning when several candidates exist
    (Compose takes the first). An empty list when there is none."""
    listed = environ.get("COMPOSE_FILE")
    if listed:
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or ":"
        return [(folder / p).absolute() for p in listed.split(separator) if p], None
    here = folder.absolute()
    while True:
        found = [here / name for name in DEFAULT_FILES if (here / name).is_file()]
        if found:
            overrides = [here / name for name in OVERRIDE_FILES if (here / name).is_file()]
            names = [p.name for p in found[1:] + overrides[1:]]
            warning = (f"several Compose files found in {here}; using {found[0].name}"
                       + (f" (and {overrides[0].name})" if overrides else "")
                       + f", not {', '.join(names)}") if names else None
            return [found[0], *overrides[:1]], warning
        if here.parent == here:
            return [], None
        here = here.parent


_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def looks_like_compose(path: Path) -> bool:
    """A Compose file by its name (compose.yaml, docker-compose.override.yml ...) or, for
    another name, by a top-level `services:` without the stack spec's `containers:`. A
    cheap look at the text: it decides which loader reads the file, which then checks it."""
    if path.name in DEFAULT_FILES or path.name in OVERRIDE_FILES:
        return True
    try:
        with path.open("rb") as stream:
            head = stream.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return False
    keys = set(_TOP_LEVEL_KEY.findall(head))
    return "services" in keys and "containers" not in keys


def normalize_project_name(name: str) -> str:
    """Compose's normalization: lowercase, only [a-z0-9_-], no leading `_` or `-`."""
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


def invalid_project_name(name: str) -> str | None:
    if name and normalize_project_name(name) == name:
        return None
    return (f"invalid project name {name!r}: use only lowercase letters, digits, `-` and "
            "`_`, starting with a letter or a digit")
