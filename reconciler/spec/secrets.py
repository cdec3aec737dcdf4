"""Encrypted files in the repository: age (age-encryption.org, the format SOPS and many
GitOps tools use), decrypted in memory with pyrage (bindings of the Rust `age` crate: no
helper process, no clear temporary file).

The identity (`AGE-SECRET-KEY-1...` lines, as `age-keygen` writes them) comes from the
environment variable RECONCILE_AGE_KEY, or from the file named by RECONCILE_AGE_KEY_FILE
(what `--age-key-file FILE` sets), read at each use so that the control loop picks a
rotated key up. Messages name the file and what went wrong, never a byte of content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

KEY_VARIABLE = "RECONCILE_AGE_KEY"
KEY_FILE_VARIABLE = "RECONCILE_AGE_KEY_FILE"
MAX_ENCRYPTED_BYTES = 4 << 20
SUFFIX = ".age"


class SecretError(ValueError):
    """An encrypted file cannot be decrypted; the message never quotes its content."""


def file_entry(entry: str | dict[str, Any]) -> tuple[str, bool]:
    """(path text, encrypted?) of an `env_file` / `secrets` entry: `{path, encrypted: age}`,
    or a path that is encrypted when it ends in `.age` (`encrypted: none` overrides)."""
    if isinstance(entry, dict):
        path = str(entry.get("path") or entry.get("source") or "")
        mode = entry.get("encrypted")
        return path, mode == "age" or (mode is None and path.endswith(SUFFIX))
    return entry, entry.endswith(SUFFIX)


def _identity_text() -> str:
    text = os.environ.get(KEY_VARIABLE, "")
    if text.strip():
        return text
    key_file = os.environ.get(KEY_FILE_VARIABLE, "")
    if not key_file:
        raise SecretError(f"no age key: set {KEY_VARIABLE} or give --age-key-file FILE")
    try:
        return Path(key_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SecretError(f"cannot read the age key file {key_file}: {reason}") from None


def _identities() -> list[Any]:
    import pyrage

    found = []
    for line in _identity_text().splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                found.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise SecretError("the age key is malformed (expected AGE-SECRET-KEY-1...)"
                                  ) from None
    if not found:
        raise SecretError("the age key holds no AGE-SECRET-KEY-1... line")
    return found


def decrypt_file(path: Path) -> bytes:
    """The clear bytes of an age file (binary or ASCII-armored); SecretError naming why."""
    import pyrage

    info = path.stat()  # OSError (missing, unreadable) is the caller's to report
    if not stat.S_ISREG(info.st_mode):
        raise SecretError("is not a regular file")
    if info.st_size > MAX_ENCRYPTED_BYTES:
        raise SecretError(f"is {info.st_size} bytes; encrypted files are limited to 4 MiB")
    identities = _identities()
    try:
        clear: bytes = pyrage.decrypt(path.read_bytes(), identities)
    except pyrage.DecryptError as exc:
        if "No matching keys" in str(exc):
            raise SecretError("cannot be decrypted with the given age key (wrong key?)"
                              ) from None
        raise SecretError("is not a valid age file (corrupted or truncated?)") from None
    return clear


def read_env_text(path: Path, encrypted: bool) -> str:
    """An env file's text, decrypted first when it is encrypted (the same limits as a
    clear env file: UTF-8, at most 1 MiB)."""
    from reconciler.spec.files import MAX_ENV_FILE_BYTES, read_env_file

    if not encrypted:
        return read_env_file(path)
    clear = decrypt_file(path)
    if len(clear) > MAX_ENV_FILE_BYTES:
        raise SecretError("is larger than 1 MiB once decrypted; env files are limited to 1 MiB")
    try:
        return clear.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError("is not UTF-8 text once decrypted") from None
