"""Ownership labels carried by every object reconcile creates. Objects without them are
never touched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model.desired import ContainerSpec

STACK = "io.reconcile.stack"
CONTAINER = "io.reconcile.container"
REPLICA = "io.reconcile.replica"
CONFIG_HASH = "io.reconcile.config-hash"
IMAGE_DIGEST = "io.reconcile.image-digest"
IMAGE = "io.reconcile.image"  # the image as the stack names it (an images: key or a ref)
SOURCE = "io.reconcile.source"
SOURCE_COMMIT = "io.reconcile.source-commit"  # provenance: "" when not from git
# Comma-separated keys of the containers this one depends on, so that removals of
# containers no longer in any spec can still be ordered (dependants first).
DEPENDS_ON = "io.reconcile.depends-on"

OWNERSHIP = (STACK, CONTAINER, CONFIG_HASH)


def ownership_labels(spec: ContainerSpec, image_digest: str) -> dict[str, str]:
    """The labels a driver writes on a container it creates, merged over the user's."""
    labels = dict(spec.labels)
    labels.update(
        {
            STACK: spec.stack,
            CONTAINER: spec.key,
            REPLICA: str(spec.replica),
            CONFIG_HASH: spec.config_hash,
            IMAGE_DIGEST: image_digest,
            IMAGE: spec.image.key,
            SOURCE: spec.source,
            SOURCE_COMMIT: spec.source_commit,
            DEPENDS_ON: ",".join(sorted({d.container for d in spec.depends_on})),
        }
    )
    return labels


def image_name(labels: Mapping[str, str], recorded_spec: Mapping[str, Any] | None,
               digest: str) -> str:
    """The image as the stack names it (`web`, `registry:5000/acme/web:1.4`): the IMAGE
    label; for a container created before that label existed, the reference its recorded
    spec names, else its digest (an oci/build identity is a hash, no better)."""
    if named := labels.get(IMAGE):
        return named
    identity = str((recorded_spec or {}).get("image") or "")
    return identity[4:] if identity.startswith("ref:") else digest[:19]


def is_owned(labels: Mapping[str, str]) -> bool:
    return all(k in labels for k in OWNERSHIP)
