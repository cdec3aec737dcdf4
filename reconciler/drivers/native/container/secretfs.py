"""Decrypted secrets of native containers live on a tmpfs only (docs/gitops.md).

A container with values from age-encrypted env files gets its bundle folder — the
`config.json` runc reads, which holds the process env — on the tmpfs at /dev/shm, in a
root-only folder per state dir: `containers/<name>/bundle` is a symlink to
`/dev/shm/reconcile-<instance>/<name>/bundle`. The clear values are kept there too
(`env.json`), so that a restart re-makes the bundle; the record on disk (`spec.json`)
names the variables with empty values. Nothing clear is written under the state dir.

After a reboot the tmpfs is empty: starting such a container again fails with a message
saying so, and the next apply with the key re-creates it (its config hash is unchanged, so
`reconcile down` + `apply`, or any change, does it).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from reconciler.drivers.native.container.state import ContainerPaths
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import DriverError
from reconciler.support.trees import remove_tree

SHM = Path("/dev/shm")


def _is_tmpfs(path: Path) -> bool:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1:3] == [str(path), "tmpfs"] for line in mounts)
    except OSError:
        return False


class SecretFS:
    def __init__(self, instance: str, shm: Path = SHM) -> None:
        self.shm = shm
        self.root = shm / f"reconcile-{instance}"

    def folder(self, name: str) -> Path:
        return self.root / name

    def place(self, paths: ContainerPaths, spec: ContainerSpec) -> None:
        """Before prepare: the bundle folder on the tmpfs, and the clear env beside it."""
        if not _is_tmpfs(self.shm):
            raise DriverError(spec.name, f"{self.shm} is not a tmpfs: decrypted env values "
                              "would have to be written to disk; refusing")
        folder = self.folder(spec.name)
        for d in (self.root, folder, folder / "bundle"):
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        env = folder / "env.json"
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(spec.secret_env), handle)
        if not paths.bundle.is_symlink():
            paths.bundle.symlink_to(folder / "bundle")

    def restore(self, name: str, recorded: ContainerSpec) -> ContainerSpec:
        """The recorded spec (values blanked) with its clear env back from the tmpfs."""
        if not recorded.secret_env:
            return recorded
        try:
            values = json.loads((self.folder(name) / "env.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DriverError(name, "its decrypted env values are gone from the tmpfs (the "
                              "host rebooted?): re-create it (down, then apply)") from None
        return replace(recorded, secret_env=tuple(
            (k, str(values.get(k, ""))) for k, _ in recorded.secret_env))

    def remove(self, name: str) -> None:
        folder = self.folder(name)
        if folder.exists():
            remove_tree(folder)


def blanked(spec: ContainerSpec) -> ContainerSpec:
    """What the on-disk record keeps of the secret env: the names."""
    return replace(spec, secret_env=tuple((k, "") for k, _ in spec.secret_env))
