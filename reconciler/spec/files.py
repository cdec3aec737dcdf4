"""Files a stack refers to: path resolution, env files, content hashes."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from reconciler.model.records import field, record


def resolve_path(base_dir: Path, text: str) -> Path:
    """`~` expands; a relative path is taken from the stack file's folder. Symlinks are kept
    (the user named this path), `..` is folded. String work, one Path made: it runs for
    every bind mount and file a stack names."""
    path = str(Path(text).expanduser()) if text.startswith("~") else text
    return Path(os.path.normpath(os.path.join(os.getcwd(), base_dir, path)))


@record
class EnvFile:
    """The entries of an env file, and its errors by line."""
    entries: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


MAX_ENV_FILE_BYTES = 1 << 20


def parse_env_file(text: str) -> EnvFile:
    """Docker's env-file format: KEY=VALUE per line, `#` comment lines and blank lines
    ignored, leading whitespace trimmed, the value taken literally (quotes are kept). A line
    without `=` is an error: Docker would read the variable from reconcile's own
    environment, which would make the desired state depend on who runs the tool.

    Messages never quote the line: env files hold secrets, and a mistyped `env_file:
    /etc/shadow` must not print the file through errors, status, logs or the journal."""
    result = EnvFile()
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            result.errors.append((number, f"line {number}: expected KEY=VALUE"))
        elif env_name_problem(key):
            result.errors.append(
                (number, f"line {number}: expected KEY=VALUE, {env_name_problem(key)}")
            )
        elif "\0" in value:
            result.errors.append((number, f"line {number}: the value contains a NUL character"))
        else:
            result.entries.append((key, value))
    return result


# `\s` is str.isspace() for a str pattern; one search instead of a test per character
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def env_name_problem(name: str) -> str:
    """Why `name` cannot be an environment variable name ("" when it can). An `=` in the
    name would set another variable (`A=B=c` is A); NUL ends the C string."""
    if not name:
        return "the variable name is empty"
    if "=" in name:
        return "the variable name contains `=`"
    if "\0" in name:
        return "the variable name contains a NUL character"
    if _SPACE_OR_CONTROL.search(name):
        return "the variable name contains whitespace or a control character"
    return ""


def read_env_file(path: Path) -> str:
    """The text of an env file; ValueError (never quoting the content) when it is not a
    regular UTF-8 file of at most 1 MiB, OSError when it cannot be read. A FIFO or
    /dev/zero must not hang or exhaust validation."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file")
    if info.st_size > MAX_ENV_FILE_BYTES:
        raise ValueError(f"is {info.st_size} bytes; env files are limited to 1 MiB")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def sha256_tree(path: Path) -> str:
    """Hash of a file or a directory tree: every entry's relative path, type, permission
    bits and content (symlinks by their target, not followed)."""
    digest = hashlib.sha256()
    entries = [path] if not path.is_dir() or path.is_symlink() else sorted(_walk(path))
    for entry in entries:
        info = entry.lstat()
        rel = "." if entry == path else entry.relative_to(path).as_posix()
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            body = "link:" + os.readlink(entry)
        elif stat.S_ISREG(info.st_mode):
            body = sha256_file(entry)
        elif stat.S_ISDIR(info.st_mode):
            body = "dir"
        else:
            body = "special"
        digest.update(f"{rel}\0{mode:o}\0{body}\n".encode())
    return "sha256:" + digest.hexdigest()


def _walk(root: Path) -> list[Path]:
    out = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        out.extend(base / name for name in dirnames + filenames)
    return out


def stack_name(path: Path, data: dict[str, object]) -> str:
    """`name:` or the file name without its extension."""
    name = data.get("name")
    return name if isinstance(name, str) else path.stem
