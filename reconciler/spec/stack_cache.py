"""Stack files already found valid, remembered by the hash of their bytes: an unchanged
file skips the schema check and, unless it holds something that looks secret, the YAML
parse too (its parsed data is kept). What the file references (env files, bind mounts,
image layouts, secrets) is never cached: the semantic checks and normalization read it
again on every load, so a changed referenced file is always seen.

An entry is `<cache_dir>/files/<key>.json`, key = sha256 of (this cache's format, the
reconcile version and the loader's own files, the schema, the file's bytes):

- `{"data": ...}`: the parsed data, for a file in which `mask_secrets` masks nothing;
- `{}`: valid, data not kept (it holds a secret-looking env value or URL password).

Only valid data is ever remembered; a damaged or unreadable entry is a miss. Secret
values, env file and secret file contents never reach the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.model.hashing import mask_secrets
from reconciler.spec.schema_check import schema_bytes

FORMAT = "1"
_HERE = Path(__file__).resolve().parent
# the code that turns bytes into data: a changed loader must not trust old entries
_LOADER_FILES = (_HERE / "loader.py", _HERE / "loaded.py")

MISS = object()  # no entry
VALID = object()  # valid, data not kept


def _code_stamp() -> str:
    stamps = []
    for path in _LOADER_FILES:
        try:
            st = os.stat(path)
            stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            stamps.append("-")
    return ",".join(stamps)


def file_key(raw: bytes) -> str:
    digest = hashlib.sha256(f"stack-cache {FORMAT} {__version__} {_code_stamp()}\n".encode())
    digest.update(hashlib.sha256(schema_bytes()).digest())
    digest.update(raw)
    return digest.hexdigest()


def _entry(cache_dir: Path, key: str) -> Path:
    return cache_dir / "files" / f"{key}.json"


def lookup(cache_dir: Path, key: str) -> Any:
    """The remembered data, VALID (valid, data not kept), or MISS."""
    try:
        doc = json.loads(_entry(cache_dir, key).read_bytes())
    except (OSError, ValueError):
        return MISS
    if not isinstance(doc, dict):
        return MISS
    return doc["data"] if isinstance(doc.get("data"), dict) else VALID


def remember(cache_dir: Path, key: str, data: Any) -> None:
    """Call only for data that passed the schema and the semantic checks."""
    from reconciler.support import atomic  # writes only: it brings `secrets` and `random`

    keep = isinstance(data, dict) and mask_secrets(data) == data
    doc = {"data": data} if keep else {}
    with contextlib.suppress(OSError, TypeError, ValueError):  # a read-only dir costs speed
        (cache_dir / "files").mkdir(parents=True, exist_ok=True, mode=0o700)
        # keys in the file's own order: what normalization sees must not depend on the cache
        atomic.write_text(_entry(cache_dir, key), json.dumps(doc) + "\n", mode=0o600)
