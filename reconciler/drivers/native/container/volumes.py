"""Named volumes: plain directories under <state_dir>/volumes/<stack>-<name>.

A volume outlives its containers; only remove_volume deletes it. The directory itself is
0755 (a non-root container user must be able to enter it); its parent stays 0700. Unlike
Docker, a new volume is not pre-filled with the image's content at the mount target.
"""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.model.errors import DriverError
from reconciler.support.trees import remove_tree

_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VOLUME_MODE = 0o755


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, full_name: str) -> Path:
        if not _VALID.match(full_name):
            raise DriverError(full_name, "invalid volume name (letters, digits, _ . - only)")
        return self.root / full_name

    def ensure(self, full_name: str) -> Path:
        path = self.path(full_name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            path.mkdir(mode=VOLUME_MODE, exist_ok=True)
        except OSError as e:
            raise DriverError(full_name, f"cannot create volume at {path}: {e}") from e
        return path

    def remove(self, full_name: str) -> None:
        path = self.path(full_name)
        try:
            remove_tree(path)
        except OSError as e:
            raise DriverError(full_name, f"cannot remove volume at {path}: {e}") from e

    def names(self) -> frozenset[str]:
        try:
            return frozenset(p.name for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return frozenset()
