"""The image store's refs.json (identity -> manifest digest) read on its own: observe needs
only this, and opening the store (its dirs, its locks, the unpack code) would cost a no-op
apply the import of everything an import or a pull uses."""

from __future__ import annotations

import json
from pathlib import Path

REFS_FILE = "refs.json"


def read_identities(store_root: Path) -> dict[str, str]:
    """identity -> manifest digest; {} for a missing, unreadable or damaged file."""
    try:
        refs = json.loads((store_root / REFS_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in refs.items()} if isinstance(refs, dict) else {}
