"""`images: {app: {dockerfile: ..., context: ..., args: ..., target: ...}}` -> ImageSource.

The identity hashes every build input: the Dockerfile, the context's files (those
.dockerignore leaves in: what the build can see), the args, the target, the network
switch, and the identities of the stack's images its FROM / COPY --from lines name. An
edited context file is therefore a new identity, so the planner rebuilds; the layer
cache makes that rebuild run only the steps after the change."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reconciler.model.desired import DockerfileSpec, ImageSource
from reconciler.spec.files import resolve_path, sha256_file
from reconciler.spec.normalize_container import scalar_text


def dockerfile_spec(spec: dict[str, Any], base_dir: Path) -> DockerfileSpec:
    dockerfile = resolve_path(base_dir, spec["dockerfile"])
    context = resolve_path(base_dir, spec["context"]) if "context" in spec else dockerfile.parent
    args = tuple(sorted((k, scalar_text(v)) for k, v in (spec.get("args") or {}).items()))
    return DockerfileSpec(str(context), str(dockerfile), args, spec.get("target"),
                          bool(spec.get("network", False)))  # fmt: skip


def referenced_images(spec: DockerfileSpec, keys: Iterable[str]) -> list[str]:
    """The stack image keys the Dockerfile builds on (FROM, COPY --from), in order."""
    # the Dockerfile reader only for a stack with a Dockerfile image: its regexes and
    # dataclasses cost every other command's start ~10 ms
    from reconciler.drivers.images.dockerfile import stages
    from reconciler.drivers.images.dockerfile.parser import parse

    text = Path(spec.dockerfile).read_text(encoding="utf-8")
    plan = stages.plan(parse(text, Path(spec.dockerfile).name), dict(spec.args), "Dockerfile")
    names = {s.name for s in plan.stages if s.name}
    wanted = [s.base for s in plan.stages]
    wanted += [ins.flag("from") or "" for s in plan.stages for ins in s.instructions
               if ins.keyword in ("COPY", "ADD")]  # fmt: skip
    known = set(keys)
    return sorted({w for w in wanted if w in known and w.lower() not in names})


def context_hash(context: Path) -> str:
    """Every file the build may copy: relative path, type, mode and content."""
    from reconciler.drivers.images.dockerfile.ignore import IgnoreRules, parse_ignore

    try:
        rules = parse_ignore((context / ".dockerignore").read_text(encoding="utf-8"))
    except FileNotFoundError:
        rules = IgnoreRules()
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(context):
        dirs.sort()
        rel_top = os.path.relpath(top, context)
        for name in sorted(dirs + files):
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if rules.excluded(rel):
                continue
            path = Path(top) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                body = "link:" + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                body = sha256_file(path)
            else:
                body = "dir" if stat.S_ISDIR(info.st_mode) else "special"
            digest.update(f"{rel}\0{stat.S_IMODE(info.st_mode):o}\0{body}\n".encode())
    return digest.hexdigest()


def dockerfile_image(key: str, spec: dict[str, Any], base_dir: Path, keys: Iterable[str],
                     get: Callable[[str], ImageSource]) -> ImageSource:  # fmt: skip
    built = dockerfile_spec(spec, base_dir)
    bases = tuple(get(name) for name in referenced_images(built, keys) if name != key)
    inputs = {
        "dockerfile": sha256_file(Path(built.dockerfile)),
        "context": context_hash(Path(built.context)),
        "args": [list(pair) for pair in built.args],
        "target": built.target,
        "network": built.network,
        "bases": {base.key: base.identity for base in bases},
    }
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    identity = "dockerfile:sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return ImageSource(key, "dockerfile", identity, dockerfile=built, bases=bases)
