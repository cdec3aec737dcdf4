"""Resolve a container's `user` ("name", "uid", "uid:gid", "name:group") to numeric ids.

The image's /etc/passwd and /etc/group are read from its unpacked layer directories, top
layer first, honouring overlay whiteouts. Image content is untrusted: no symlink is ever
followed (a symlinked /etc or /etc/passwd counts as absent) and files are size-capped.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

from reconciler.model.errors import ReconcileError
from reconciler.model.records import record

MAX_ID = 2**31 - 1
MAX_FILE_SIZE = 4 * 1024 * 1024  # far above any real passwd; refuses a hostile giant file
OPAQUE_WHITEOUT = ".wh..wh..opq"


class UserLookupError(ReconcileError):
    """The spec's user or group cannot be resolved in the image."""


@record(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _open_nofollow(layer: str, relative: tuple[str, ...]) -> int | None:
    """An fd for layer/relative, refusing symlinks at every step; None if absent."""
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(layer, flags_dir)
    except OSError:
        return None
    try:
        for index, part in enumerate(relative):
            last = index == len(relative) - 1
            flags = (os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC) if last else flags_dir
            next_fd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return fd
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None
        raise


def _exists_nofollow(layer: str, relative: tuple[str, ...]) -> bool:
    try:
        os.lstat(os.path.join(layer, *relative))
    except OSError:
        return False
    return True


def _read_regular(fd: int, shown: str) -> str | None:
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > MAX_FILE_SIZE:
            raise UserLookupError(f"{shown} is larger than {MAX_FILE_SIZE} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
        return data.decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _hides_lower_layers(layer: str, name: str) -> bool:
    """True when this layer shadows /etc/<name> without providing a readable file: a
    whiteout, an opaque /etc, a non-directory /etc, or a symlink we refuse to follow."""
    etc = os.path.join(layer, "etc")
    if _exists_nofollow(layer, ("etc",)) and (os.path.islink(etc) or not os.path.isdir(etc)):
        return True
    return any(
        _exists_nofollow(layer, ("etc", entry)) for entry in (name, f".wh.{name}", OPAQUE_WHITEOUT)
    )


def read_image_file(layers: Sequence[str], name: str) -> str | None:
    """Text of /etc/<name> as the merged image sees it; None when absent or not a file."""
    for layer in layers:
        fd = _open_nofollow(layer, ("etc", name))
        if fd is not None:
            return _read_regular(fd, f"/etc/{name}")
        if _hides_lower_layers(layer, name):
            return None
    return None


def _records(text: str | None, min_fields: int) -> list[list[str]]:
    if not text:
        return []
    rows = [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
    return [row for row in rows if len(row) >= min_fields]


def _parse_id(value: str, what: str) -> int | None:
    if not value.isdigit():
        return None
    number = int(value)
    if number > MAX_ID:
        raise UserLookupError(f"{what} {number} is out of range (0..{MAX_ID})")
    return number


@record(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int
    home: str


def _accounts(passwd: str | None) -> list[_Account]:
    accounts = []
    for row in _records(passwd, 7):
        if row[2].isdigit() and row[3].isdigit():
            accounts.append(_Account(row[0], int(row[2]), int(row[3]), row[5] or "/"))
    return accounts


def _groups(group: str | None) -> list[tuple[str, int, list[str]]]:
    return [
        (row[0], int(row[2]), [m for m in row[3].split(",") if m])
        for row in _records(group, 4)
        if row[2].isdigit()
    ]


def _resolve_account(user_part: str, accounts: list[_Account]) -> _Account:
    uid = _parse_id(user_part, "uid")
    for account in accounts:
        if (uid is None and account.name == user_part) or account.uid == uid:
            return account
    if uid is None:
        raise UserLookupError(f"user {user_part!r} not found in the image's /etc/passwd")
    return _Account("", uid, 0, "/")  # a numeric uid need not exist, as in Docker


def _resolve_group(group_part: str, groups: list[tuple[str, int, list[str]]]) -> int:
    gid = _parse_id(group_part, "gid")
    if gid is not None:
        return gid
    for name, number, _members in groups:
        if name == group_part:
            return number
    raise UserLookupError(f"group {group_part!r} not found in the image's /etc/group")


def resolve_user(user: str | None, layers: Sequence[str]) -> ResolvedUser:
    """Numeric ids for `user` (None or "" means root). Supplementary groups come from the
    image's /etc/group membership, only when no group is given explicitly (runc's rule)."""
    user_part, _, group_part = (user or "root").partition(":")
    if not user_part:
        raise UserLookupError(f"user {user!r}: the user part is empty")
    accounts = _accounts(read_image_file(layers, "passwd"))
    if user_part == "root" and not any(a.name == "root" for a in accounts):
        account = _Account("root", 0, 0, "/root")  # images without /etc/passwd run as root
    else:
        account = _resolve_account(user_part, accounts)
    groups = _groups(read_image_file(layers, "group"))
    if group_part:
        return ResolvedUser(account.uid, _resolve_group(group_part, groups), (), account.home)
    extra = sorted(
        {gid for _name, gid, members in groups if account.name and account.name in members}
        - {account.gid}
    )
    return ResolvedUser(account.uid, account.gid, tuple(extra), account.home)
