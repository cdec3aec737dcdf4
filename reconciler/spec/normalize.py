"""Validated stack data -> the normalized model (reconciler.model).

Pure except for reading the files a stack names, to hash their content: an edited
bind-mounted file, env file, copied build input or image source changes the identity or
config hash, so the planner replaces what depends on it; and for asking git which commit
the stack file's folder is at (provenance, spec/provenance.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

from reconciler.model.desired import (
    BuildSpec,
    ContainerSpec,
    CopyStep,
    DesiredStack,
    ImageSource,
    PullPolicy,
    VolumeSpec,
)
from reconciler.model.hashing import config_hash
from reconciler.model.records import replace
from reconciler.model.reference import normalize_reference
from reconciler.spec.dockerfile_image import dockerfile_image
from reconciler.spec.files import resolve_path, sha256_file, sha256_tree, stack_name
from reconciler.spec.normalize_container import (
    container_fields,
    env_pairs,
    scalar_text,
    shell_form,
)
from reconciler.spec.provenance import git_commit


def normalize_stack(path: Path, data: dict[str, Any]) -> DesiredStack:
    """`data` must have passed the schema and semantic checks; OSError may still escape
    (a file removed meanwhile) and is the caller's to convert."""
    name = stack_name(path, data)
    base_dir = path.absolute().parent
    commit = git_commit(base_dir)
    images = _Images(data.get("images") or {}, base_dir)
    sources = tuple(images.get(key) for key in sorted(images.specs))
    volumes = tuple(VolumeSpec(name, v) for v in sorted(data.get("volumes") or {}))
    containers: list[ContainerSpec] = []
    subnet = str(((data.get("networks") or {}).get("default") or {}).get("subnet", ""))
    numbered = data.get("container_names") == "compose"
    source = str(path.absolute())
    for key, spec in sorted((data.get("containers") or {}).items()):
        image = images.resolve_container_image(spec["image"])
        template = ContainerSpec(
            stack=name,
            key=key,
            name=f"{name}-{key}",
            replica=1,
            image=image,
            source=source,
            source_commit=commit,
            subnet=subnet,
            **container_fields(key, spec, base_dir),
        )
        containers.extend(expand_replicas(template, spec.get("replicas", 1), numbered))
    return DesiredStack(name, str(path.absolute()), sources, volumes, tuple(containers))


def expand_replicas(template: ContainerSpec, replicas: int,
                    numbered: bool = False) -> list[ContainerSpec]:
    """Replica 1 is "<stack>-<key>", replica n>1 "<stack>-<key>-<n>"; 0 gives none.
    `numbered` (`container_names: compose`): every replica is "<stack>-<key>-<n>", the
    names docker compose gives, so both tools agree on a project's containers. `template`
    (replica 1, made for this call and held by nothing else yet) is that replica itself:
    its hash is set in place, where replace() would make it anew (~70 us a container), and
    so is its numbered name (the name is not hashed): a Compose file's every container."""
    digest = config_hash(template)
    object.__setattr__(template, "config_hash", digest)
    base = template.name
    out = []
    for n in range(1, replicas + 1):
        if n > 1:
            out.append(replace(template, name=f"{base}-{n}", replica=n))
            continue
        if numbered:
            object.__setattr__(template, "name", f"{base}-1")
        out.append(template)
    return out


def _sha256_json(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class _Images:
    """Resolves `images:` entries, bases before the builds that use them."""

    def __init__(self, specs: dict[str, Any], base_dir: Path) -> None:
        self.specs = specs
        self.base_dir = base_dir
        self.done: dict[str, ImageSource] = {}
        self.refs: dict[str, ImageSource] = {}  # container images given as references

    def get(self, key: str) -> ImageSource:
        if key not in self.done:
            self.done[key] = self._make(key, self.specs[key])
        return self.done[key]

    def resolve_container_image(self, text: str) -> ImageSource:
        if text in self.specs:
            return self.get(text)
        if text not in self.refs:  # many containers run one image
            ref = normalize_reference(text)
            self.refs[text] = ImageSource(key=text, kind="ref", identity=f"ref:{ref}", ref=ref)
        return self.refs[text]

    def _make(self, key: str, spec: dict[str, Any]) -> ImageSource:
        if "oci" in spec:
            path = resolve_path(self.base_dir, spec["oci"])
            identity = "oci:" + sha256_file(path / "index.json")
            return ImageSource(key, "oci", identity, path=str(path))
        if "archive" in spec:
            path = resolve_path(self.base_dir, spec["archive"])
            return ImageSource(key, "archive", "archive:" + sha256_file(path), path=str(path))
        if "ref" in spec:
            ref = normalize_reference(spec["ref"])
            pull = cast(PullPolicy, spec.get("pull", "missing"))
            return ImageSource(key, "ref", f"ref:{ref}", ref=ref, pull=pull)
        if "dockerfile" in spec:
            return dockerfile_image(key, spec, self.base_dir, self.specs, self.get)
        return self._build(key, spec["build"])

    def _build(self, key: str, spec: dict[str, Any]) -> ImageSource:
        base = None if spec["from"] == "scratch" else self.get(spec["from"])
        copies = []
        for step in spec.get("copy", []):
            src = resolve_path(self.base_dir, step["src"])
            copies.append(CopyStep(str(src), step["dest"], sha256_tree(src)))
        build = BuildSpec(
            base=spec["from"],
            copy=tuple(copies),
            env=tuple(sorted(dict(env_pairs(spec.get("env"))).items())),
            workdir=spec.get("workdir"),
            cmd=shell_form(spec.get("cmd")),
            entrypoint=shell_form(spec.get("entrypoint")),
            user=spec.get("user"),
            labels=tuple(
                sorted((k, scalar_text(v)) for k, v in (spec.get("labels") or {}).items())
            ),
        )
        return ImageSource(key, "build", build_identity(build, base), build=build, base=base)


def build_identity(build: BuildSpec, base: ImageSource | None) -> str:
    """Every build input, base image identity included; copy sources by content, name
    (the basename matters for COPY into a folder) and destination, not by host path."""
    inputs = {
        "base": base.identity if base else "scratch",
        "copy": [
            {"name": Path(c.src).name, "dest": c.dest, "content": c.content_hash}
            for c in build.copy
        ],
        "env": [list(pair) for pair in build.env],
        "workdir": build.workdir,
        "cmd": list(build.cmd) if build.cmd is not None else None,
        "entrypoint": list(build.entrypoint) if build.entrypoint is not None else None,
        "user": build.user,
        "labels": [list(pair) for pair in build.labels],
    }
    return "build:" + _sha256_json(inputs)
