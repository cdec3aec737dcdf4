"""The image a stage has built so far, and the config changes of the instructions that
only change metadata (Docker's dispatchers, legacy builder semantics)."""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path
from typing import Any

from reconciler.drivers.images import oci
from reconciler.model.records import field, record

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")


@record
class BuildState:
    """The image a stage has built so far."""

    config: dict[str, Any]  # the whole OCI image config (config, rootfs, history, ...)
    layers: list[dict[str, Any]]  # manifest layer descriptors, bottom -> top
    layer_dirs: list[Path]  # the unpacked layers, bottom -> top
    cmd_set: bool = False  # CMD seen in this stage: ENTRYPOINT keeps it
    args: dict[str, str] = field(default_factory=dict)  # ARGs in scope, with values

    @property
    def inner(self) -> dict[str, Any]:
        inner = self.config.setdefault("config", {})
        assert isinstance(inner, dict)
        return inner

    def env(self) -> dict[str, str]:
        pairs = (str(e).partition("=") for e in self.inner.get("Env") or [])
        return {name: value for name, _, value in pairs}

    def substitution_env(self) -> dict[str, str]:
        """What `$VAR` sees: the stage's ARGs, overridden by its ENV (as in Docker)."""
        return {**self.args, **self.env()}

    def set_env(self, changes: list[tuple[str, str]]) -> None:
        merged = self.env()
        for name, value in changes:
            merged[name] = value
        self.inner["Env"] = [f"{name}={value}" for name, value in merged.items()]

    def shell(self) -> tuple[str, ...]:
        return tuple(self.inner.get("Shell") or DEFAULT_SHELL)

    def identity(self) -> str:
        """A hash of everything the state is: the parent part of a cache key."""
        return hashlib.sha256(oci.canonical_json(self.config)).hexdigest()

    def copy(self) -> BuildState:
        return BuildState(copy.deepcopy(self.config), copy.deepcopy(self.layers),
                          list(self.layer_dirs), self.cmd_set, dict(self.args))  # fmt: skip

    def add_history(self, created: str, created_by: str, layer: dict[str, Any] | None,
                    diff_id: str | None, layer_dir: Path | None) -> None:  # fmt: skip
        step: dict[str, Any] = {"created": created, "created_by": created_by}
        if layer is None:
            step["empty_layer"] = True
        else:
            assert diff_id is not None and layer_dir is not None
            self.layers.append(layer)
            self.layer_dirs.append(layer_dir)
            rootfs = self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), diff_id]
        self.config["history"] = [*(self.config.get("history") or []), step]


def scratch_state() -> BuildState:
    os_name, arch = oci.host_platform()
    rootfs = {"type": "layers", "diff_ids": []}
    config: dict[str, Any] = {"architecture": arch, "os": os_name, "config": {},
                              "rootfs": rootfs, "history": []}  # fmt: skip
    return BuildState(config, [], [])


def begin_stage(state: BuildState) -> None:
    """Every stage runs with a PATH, as the legacy builder adds it when the base has none."""
    if "PATH" not in state.env():
        state.set_env([("PATH", DEFAULT_PATH)])


def normalize_port(port: str) -> str:
    number, _, proto = port.partition("/")
    return f"{number}/{(proto or 'tcp').lower()}"


def iso(epoch: int) -> str:
    """The build's timestamp (SOURCE_DATE_EPOCH, else the Unix epoch) in RFC 3339."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
