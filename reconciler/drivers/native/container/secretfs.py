"""Decrypted secrets of native containers live on a tmpfs only (docs/gitops.md).

A container with values from age-encrypted env files or with `secrets:` files gets its
bundle folder — the `config.json` runc reads, which holds the process env — on the tmpfs
at /dev/shm, in a root-only folder per state dir: `containers/<name>/bundle` is a symlink
to `/dev/shm/reconcile-<instance>/<name>/bundle`. The clear env is kept there too
(`env.json`), so that a restart re-makes the bundle, and each secret file
(`secrets/<n>`), bind-mounted read-only at its target. The record on disk (`spec.json`)
keeps names, targets and hashes only. Nothing clear is written under the state dir.

After a reboot the tmpfs is empty and such a container could not start again: observe
reports it with the lost fields marked (`env_file`, `secrets.<target>.content` become
LOST) and its config hash changed accordingly, so the planner replaces it with a
field-level reason, and the apply (which has the key) re-creates it. Starting it by hand
meanwhile fails saying so.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.drivers.native.container.state import ContainerPaths
from reconciler.model.desired import ContainerSpec, Mount
from reconciler.model.errors import DriverError
from reconciler.model.observed import ObservedContainer
from reconciler.model.records import replace
from reconciler.support.trees import remove_tree

SHM = Path("/dev/shm")
LOST = "(gone from the tmpfs: host rebooted?)"


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
        _write(folder / "env.json", json.dumps(dict(spec.secret_env)).encode(), 0o600)
        if spec.secret_files:
            (folder / "secrets").mkdir(mode=0o700, exist_ok=True)
        for n, secret in enumerate(spec.secret_files):
            _write(folder / "secrets" / str(n), base64.b64decode(secret.clear), secret.mode)
        if not paths.bundle.is_symlink():
            paths.bundle.symlink_to(folder / "bundle")

    def with_mounts(self, spec: ContainerSpec) -> ContainerSpec:
        """`spec` with its secret files bind-mounted read-only from the tmpfs."""
        folder = self.folder(spec.name) / "secrets"
        extra = tuple(Mount("bind", s.target, str(folder / str(n)), read_only=True)
                      for n, s in enumerate(spec.secret_files))
        return replace(spec, mounts=spec.mounts + extra) if extra else spec

    def restore(self, name: str, recorded: ContainerSpec) -> ContainerSpec:
        """The recorded spec (values blanked) with its secrets back from the tmpfs."""
        if not recorded.secret_env and not recorded.secret_files:
            return recorded
        folder = self.folder(name)
        try:
            values = json.loads((folder / "env.json").read_text(encoding="utf-8"))
            missing = [s.target for n, s in enumerate(recorded.secret_files)
                       if not (folder / "secrets" / str(n)).is_file()]
        except (OSError, ValueError):
            missing = ["env"]
        if missing:
            raise DriverError(name, "its decrypted secrets are gone from the tmpfs (the "
                              "host rebooted?): re-create it (down, then apply)")
        spec = replace(recorded, secret_env=tuple(
            (k, str(values.get(k, ""))) for k, _ in recorded.secret_env))
        return self.with_mounts(spec)

    def annotate(self, containers: tuple[ObservedContainer, ...],
                 specs: Mapping[str, Mapping[str, Any]]) -> tuple[ObservedContainer, ...]:
        """Mark the containers whose decrypted secrets are gone from the tmpfs (`specs`:
        each container's recorded spec data): a start would fail, a replace re-makes them."""
        return tuple(self._checked(c, specs.get(c.name) or {}) for c in containers)

    def _checked(self, seen: ObservedContainer, spec: Mapping[str, Any]) -> ObservedContainer:
        env, files = spec.get("secret_env") or (), spec.get("secret_files") or ()
        if not env and not files:
            return seen
        folder = self.folder(seen.name)
        fields = dict(seen.recorded_spec or {})
        lost = []
        if env and not (folder / "env.json").is_file():
            fields["env_file"] = LOST
            lost.append("env_file")
        secrets = {t: dict(v) for t, v in (fields.get("secrets") or {}).items()}
        for n, secret in enumerate(files):
            target = secret.get("target") if isinstance(secret, dict) else None
            if not (folder / "secrets" / str(n)).is_file() and target in secrets:
                secrets[target]["content"] = LOST
                lost.append(f"secrets.{target}")
        if not lost:
            return seen
        return replace(seen, config_hash=f"{seen.config_hash}:lost:{','.join(lost)}",
                       recorded_spec={**fields, **({"secrets": secrets} if secrets else {})})

    def remove(self, name: str) -> None:
        folder = self.folder(name)
        if folder.exists():
            remove_tree(folder)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def blanked(spec: ContainerSpec) -> ContainerSpec:
    """What the on-disk record keeps of secrets: env names, file targets and hashes."""
    return replace(spec, secret_env=tuple((k, "") for k, _ in spec.secret_env),
                   secret_files=tuple(replace(s, clear="") for s in spec.secret_files))
