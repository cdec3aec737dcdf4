"""Applied revisions per stack (`<state_dir>/sync/history.json`) and image pins.

Each entry: the commit, its author and subject, when it was applied, the result (`ok`,
`failed`: invalid or its apply failed, `rolled-back`: never healthy, the previous revision
was put back), the stack file (relative to the repository) and, for `ok`, the image
digests observed after the apply. A rollback converges the old stack file with its image
references pinned to those digests (`ref@sha256:...`), so a tag moved since then does not
change what runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.model.desired import ContainerSpec, DesiredStack, ImageSource
from reconciler.model.hashing import config_hash
from reconciler.model.observed import ObservedContainer
from reconciler.model.records import replace
from reconciler.support.atomic import read_json, write_json

FILE = "sync/history.json"
KEEP = 100  # entries per stack
RESULTS = ("ok", "failed", "rolled-back")


class History:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE
        doc = read_json(self.path)
        stacks = doc.get("stacks") if isinstance(doc, dict) else None
        self.stacks: dict[str, list[dict[str, Any]]] = {
            str(name): [r for r in rows if isinstance(r, dict)]
            for name, rows in (stacks.items() if isinstance(stacks, dict) else ())
            if isinstance(rows, list)}

    def entries(self, stack: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return list(self.stacks.get(stack, []))

    def record(self, stack: str, entry: dict[str, Any]) -> None:
        rows = self.stacks.setdefault(stack, [])
        rows.append(entry)
        del rows[:-KEEP]
        write_json(self.path, {"stacks": self.stacks}, indent=2)

    def find(self, stack: str, rev: str) -> dict[str, Any] | None:
        """The newest `ok` entry whose commit starts with `rev`."""
        for entry in self.entries(stack)[::-1]:
            if entry.get("result") == "ok" and str(entry.get("commit", "")).startswith(rev):
                return entry
        return None

    def previous_good(self, stack: str, current: str) -> dict[str, Any] | None:
        """The newest `ok` entry of another commit than `current` (the one in force)."""
        for entry in self.entries(stack)[::-1]:
            if entry.get("result") == "ok" and entry.get("commit") != current:
                return entry
        return None


def unpinned(identity: str) -> str:
    """`ref:host/a/b:1@sha256:...` -> `ref:host/a/b:1`: pins are keyed by what the file says."""
    return identity.split("@", 1)[0] if identity.startswith("ref:") else identity


def observed_pins(specs: Iterable[ContainerSpec],
                  seen: Mapping[str, ObservedContainer]) -> dict[str, str]:
    """Image identity (unpinned) -> the digest its containers run, after a good apply."""
    pins: dict[str, str] = {}
    for spec in specs:
        container = seen.get(spec.name)
        if container is not None and container.image_digest:
            pins[unpinned(spec.image.identity)] = container.image_digest
    return pins


def _pin_image(image: ImageSource, pins: Mapping[str, str]) -> ImageSource:
    digest = pins.get(unpinned(image.identity))
    if image.kind != "ref" or not digest or "@" in image.ref:
        return image  # files and builds are pinned by the revision's own content
    ref = f"{image.ref}@{digest}"
    return replace(image, ref=ref, identity=f"ref:{ref}")


def pin_stack(stack: DesiredStack, pins: Mapping[str, str]) -> DesiredStack:
    """The stack with every registry reference pinned to the digest it ran with."""
    if not pins:
        return stack
    containers = []
    for spec in stack.containers:
        pinned = replace(spec, image=_pin_image(spec.image, pins))
        containers.append(replace(pinned, config_hash=config_hash(pinned)))
    return replace(stack, images=tuple(_pin_image(i, pins) for i in stack.images),
                   containers=tuple(containers))
