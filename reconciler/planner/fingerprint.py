"""Fingerprints for saved plans (`plan --out`, `apply --plan`; docs/gitops.md). Pure.

A saved plan is only safe to apply on the host it was made from and from the stack files
it was made of. Two fingerprints say so:

- of the observed state: per owned container of the stacks in scope its name, config hash,
  image digest, state and the times that change when it is re-created or re-started; the
  digests of the images the stacks use; the stacks' volumes;
- of the stack inputs: a hash of the normalized `Desired` (stack-file paths and warnings
  left out: they do not change what runs).

`describe_moves` compares two observed fingerprints and says, one sentence per object,
what moved ("shop-web was replaced at 12:03:07 UTC").
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from reconciler.model import labels
from reconciler.model.desired import ContainerSpec, Desired
from reconciler.model.observed import Observed
from reconciler.model.records import asdict

# Fields of the normalized model that do not change what runs: where a stack file lives
# (a checkout in another folder must not refuse the plan), the commit it was read at (a
# plan made on a pull request's head applies on the merge commit) and the risk warnings;
# and the clear values of secrets (their content hashes stand for them).
_STACK_FIELDS_LEFT_OUT = ("source", "warnings", "containers")
_CONTAINER_FIELDS_LEFT_OUT = ("source", "source_commit", "secret_env", "secret_files")


def _container(spec: ContainerSpec) -> dict[str, Any]:
    data = {k: v for k, v in asdict(spec).items()
            if k not in _CONTAINER_FIELDS_LEFT_OUT}
    data["secret_files"] = [[s.target, s.content_hash, s.mode] for s in spec.secret_files]
    return data


def desired_hash(desired: Desired) -> str:
    """sha256 of the normalized stacks, without the fields above: no clear secret value
    goes into it."""
    data = [
        {**{k: v for k, v in asdict(stack).items()
            if k not in _STACK_FIELDS_LEFT_OUT},
         "containers": [_container(c) for c in stack.containers]}
        for stack in desired.stacks
    ]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def observed_fingerprint(
    observed: Observed, scope: frozenset[str], desired: Desired
) -> dict[str, Any]:
    """The JSON-able fingerprint of what a plan was made from, sorted for stable files."""
    containers = [
        {
            "name": c.name,
            "config_hash": c.config_hash,
            "image_digest": c.image_digest,
            "state": c.state,
            "created_at": c.created_at,
            "started_at": c.started_at,
        }
        for c in sorted(observed.containers, key=lambda c: c.name)
        if c.stack in scope and labels.is_owned(c.labels)
    ]
    identities = sorted({spec.image.identity for spec in desired.containers()})
    images = {i: observed.images.get(i) for i in identities}
    prefixes = tuple(f"{s}-" for s in sorted(scope))
    volumes = sorted(v for v in observed.volumes if v.startswith(prefixes))
    return {"containers": containers, "images": images, "volumes": volumes}


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _container_moved(name: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    if old.get("created_at") != new.get("created_at") or old.get("config_hash") != new.get(
        "config_hash"
    ):
        return f"{name} was replaced at {_clock(new.get('created_at'))}"
    if old.get("image_digest") != new.get("image_digest"):
        return f"{name} now runs image {new.get('image_digest')}"
    if old.get("started_at") != new.get("started_at"):
        return f"{name} was started again at {_clock(new.get('started_at'))}"
    if old.get("state") != new.get("state"):
        return f"{name} was {old.get('state')}, now {new.get('state')}"
    return None


def _containers_moved(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    before = {c["name"]: c for c in old}
    after = {c["name"]: c for c in new}
    out: list[str] = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            out.append(f"{name} is gone")
        elif name not in before:
            out.append(f"{name} is new (created at {_clock(after[name].get('created_at'))})")
        else:
            moved = _container_moved(name, before[name], after[name])
            if moved:
                out.append(moved)
    return out


def _images_moved(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for identity in sorted(set(old) | set(new)):
        a, b = old.get(identity), new.get(identity)
        if a == b:
            continue
        if a is None:
            out.append(f"image {identity} is now in the image store ({b})")
        elif b is None:
            out.append(f"image {identity} left the image store")
        else:
            out.append(f"image {identity} now has digest {b} (was {a})")
    return out


def describe_moves(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two observed fingerprints, one sentence each, sorted."""
    moves = _containers_moved(saved.get("containers", []), current.get("containers", []))
    moves += _images_moved(saved.get("images", {}), current.get("images", {}))
    old_volumes, new_volumes = set(saved.get("volumes", [])), set(current.get("volumes", []))
    moves += [f"volume {v} was created" for v in sorted(new_volumes - old_volumes)]
    moves += [f"volume {v} was removed" for v in sorted(old_volumes - new_volumes)]
    return moves
