"""The synced working tree, `<state_dir>/sync/tree`: made equal to an exported revision in
place, one file at a time, each replaced atomically (a temp file renamed over it).

In place and not a symlink swapped to each revision: a stack's bind mounts and env files
are named by their path, which is part of a container's config hash; a path that changed
with every commit would replace every container that binds a repository file on any
commit. Through a stable tree, only a change of content does, as with `run --watch` on a
folder the user edits. Only the deciding thread writes it.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import stat
from pathlib import Path

from reconciler.support.trees import remove_tree


def mirror_tree(source: Path, dest: Path) -> None:
    """Make `dest` hold exactly what `source` holds (files, folders, symbolic links)."""
    dest.mkdir(parents=True, exist_ok=True, mode=0o755)
    wanted = {p.name for p in source.iterdir()}
    for child in dest.iterdir():  # gone from the revision, or of another type now
        there = source / child.name
        if child.name not in wanted or _kind(there) != _kind(child):
            remove_tree(child)
    for entry in sorted(source.iterdir()):
        target = dest / entry.name
        if entry.is_symlink():
            if not target.is_symlink() or os.readlink(target) != os.readlink(entry):
                _replace_link(entry, target)
        elif entry.is_dir():
            mirror_tree(entry, target)
        elif not target.exists() or not _same_file(entry, target):
            _replace_file(entry, target)


def _kind(path: Path) -> str:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return ""
    return "link" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file"


def _same_file(a: Path, b: Path) -> bool:
    return (a.stat().st_mode & 0o7777) == (b.stat().st_mode & 0o7777) and \
        filecmp.cmp(a, b, shallow=False)


def _replace_file(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.sync-tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)


def _replace_link(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.sync-tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.readlink(source), tmp)
    os.replace(tmp, target)
