"""`secrets:` of a container: files of the stack (usually age-encrypted) the container
reads at a path of its own, from a tmpfs (docs/gitops.md). The smallest form Compose users
know: a list of paths (read at /run/secrets/<name without .age>) or of
`{source, target, encrypted: age|none, mode}`.
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Any, Protocol

from reconciler.model.desired import SecretFile
from reconciler.spec.files import resolve_path
from reconciler.spec.loaded import JsonPath
from reconciler.spec.secrets import SecretError, decrypt_file, file_entry

MAX_SECRET_BYTES = 1 << 20
DEFAULT_DIR = "/run/secrets"


class Checker(Protocol):
    spec: dict[str, Any]

    @property
    def base_dir(self) -> Path: ...

    def report(self, sub: JsonPath, message: str, *, at_key: bool = False) -> None: ...


def _fields(entry: str | dict[str, Any]) -> tuple[str, str, bool, int]:
    """(source text, target, encrypted?, mode)."""
    source, encrypted = file_entry(entry)
    name = posixpath.basename(source.rstrip("/")).removesuffix(".age")
    target = f"{DEFAULT_DIR}/{name}"
    mode = 0o444
    if isinstance(entry, dict):
        target = str(entry.get("target", target))
        mode = int(entry.get("mode", mode))
    return source, target, encrypted, mode


def read_secret(path: Path, encrypted: bool) -> bytes:
    """The clear bytes; SecretError (never quoting content) or OSError."""
    if encrypted:
        clear = decrypt_file(path)
    else:
        if path.stat().st_size > MAX_SECRET_BYTES:
            raise SecretError("is larger than 1 MiB; secret files are limited to 1 MiB")
        clear = path.read_bytes()
    if len(clear) > MAX_SECRET_BYTES:
        raise SecretError("is larger than 1 MiB; secret files are limited to 1 MiB")
    return clear


def _target_problem(target: str, seen: set[str]) -> str:
    if not target.startswith("/") or posixpath.normpath(target) != target or target == "/":
        return f"target `{target}` must be a normalized absolute path inside the container"
    if target in seen:
        return f"target `{target}` is used by another secret of this container"
    return ""


def check_secret_files(checker: Checker) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(checker.spec.get("secrets") or []):
        source, target, encrypted, _ = _fields(entry)
        problem = _target_problem(target, seen)
        seen.add(target)
        if problem:
            checker.report(("secrets", i), problem)
            continue
        path = resolve_path(checker.base_dir, source)
        try:
            read_secret(path, encrypted)
        except FileNotFoundError:
            checker.report(("secrets", i), f"secret `{source}` not found (looked for {path})")
        except SecretError as exc:
            kind = " (age-encrypted)" if encrypted else ""
            checker.report(("secrets", i), f"secret `{source}`{kind} {exc}")
        except OSError as exc:
            checker.report(("secrets", i),
                           f"secret `{source}` cannot be read: {exc.strerror or 'error'}")


def secret_files(spec: dict[str, Any], base_dir: Path) -> tuple[SecretFile, ...]:
    import base64  # only a stack with secrets needs it: not every command's start-up

    out = []
    for entry in spec.get("secrets") or []:
        source, target, encrypted, mode = _fields(entry)
        path = resolve_path(base_dir, source)
        clear = read_secret(path, encrypted)
        digest = "sha256:" + hashlib.sha256(clear).hexdigest()
        out.append(SecretFile(target, str(path), digest, mode,
                              base64.b64encode(clear).decode("ascii")))
    return tuple(sorted(out, key=lambda s: s.target))
