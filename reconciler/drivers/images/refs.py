"""The image store's refs.json (identity -> manifest digest) read on its own: observe needs
only this, and opening the store (its dirs, its locks, the unpack code) would cost a no-op
apply the import of everything an import or a pull uses."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.model.errors import NotFound
from reconciler.model.reference import parse_reference

REFS_FILE = "refs.json"


def read_identities(store_root: Path) -> dict[str, str]:
    """identity -> manifest digest; {} for a missing, unreadable or damaged file."""
    try:
        refs = json.loads((store_root / REFS_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in refs.items()} if isinstance(refs, dict) else {}


def local_digest(identities: dict[str, str], source: str) -> str:
    """The manifest digest of `source`: an identity in refs.json, a reference pulled,
    pushed or tagged before, or a manifest digest the store has."""
    if source in identities:
        return identities[source]
    if source.startswith("sha256:") and source in identities.values():
        return source
    try:
        identity = f"ref:{parse_reference(source)}"
    except ValueError:
        identity = ""
    if identity in identities:
        return identities[identity]
    raise NotFound(source, "no such image in the store (pull, build or tag it first)")
