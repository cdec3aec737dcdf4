"""COPY and ADD: which files of the context (or of another stage's tree) go where in the
new layer, with Docker's rules. A directory source copies its contents; a file goes into
`dest` when it ends in `/` or is a directory in the image, else it becomes `dest`; several
sources (or a glob matching several) need a `dest` ending in `/`. Missing parents take
the image's metadata (build.base_dir), new ones 0755 root (or the --chown owner)."""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from pathlib import Path

from reconciler.drivers.images.build import LayerItem, base_dir, item_for
from reconciler.drivers.images.dockerfile.hashcache import HashCache
from reconciler.drivers.images.dockerfile.ignore import IgnoreRules, glob_regex
from reconciler.model.records import field, record, replace

_GLOB_CHARS = "*?["


@record(frozen=True)
class SourceTree:
    """Where COPY sources are read from, and what is ignored there."""

    root: Path  # the context folder, or a stage's merged tree
    label: str  # "the context", "stage 'build'": for errors
    rules: IgnoreRules = field(default_factory=IgnoreRules)


@record(frozen=True)
class CopyOptions:
    """COPY's --chown and --chmod, resolved."""

    owner: tuple[int, int] | None = None  # --chown, resolved
    mode: int | None = None  # --chmod


def _relative(source: str) -> str:
    """Sources are cleaned inside the tree: `../x` cannot leave it (Docker does the same)."""
    return posixpath.normpath("/" + source).lstrip("/")


def _inside(tree: SourceTree, rel: str) -> Path | None:
    """The path of `rel` in the tree when it exists, is not ignored, and no symlink on the
    way leads out of the tree."""
    if rel and tree.rules.excluded(rel):
        return None
    path = tree.root / rel if rel else tree.root
    parent = os.path.realpath(path.parent) if rel else str(tree.root)
    root = os.path.realpath(tree.root)
    if os.path.commonpath([root, parent]) != root:
        return None
    return path if os.path.lexists(path) else None


def _walk(tree: SourceTree) -> list[str]:
    found = []
    for top, dirs, files in os.walk(tree.root):
        rel_top = os.path.relpath(top, tree.root)
        for name in sorted(dirs + files):
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if not tree.rules.excluded(rel):
                found.append(rel)
        if not tree.rules.has_exceptions:  # else an excluded folder may hold a `!` entry
            dirs[:] = [d for d in dirs
                       if not tree.rules.excluded(d if rel_top == "." else f"{rel_top}/{d}")]
    return found


def expand_sources(tree: SourceTree, sources: list[str]) -> list[tuple[str, Path]]:
    """Each source as (relative name, path), globs expanded; ValueError for a missing one."""
    result: list[tuple[str, Path]] = []
    listing: list[str] | None = None
    for source in sources:
        rel = _relative(source)
        if any(c in rel for c in _GLOB_CHARS):
            listing = _walk(tree) if listing is None else listing
            pattern = glob_regex(rel)
            matches = [name for name in listing if pattern.match(name)]
            if not matches:
                raise ValueError(f"no source files were specified: {source!r} matches nothing "
                                 f"in {tree.label}")
            result.extend((name, tree.root / name) for name in matches)
            continue
        path = _inside(tree, rel)
        if path is None:
            raise ValueError(f"source {source!r} not found in {tree.label}")
        result.append((rel, path))
    return result


def is_dir_in(layers: tuple[Path, ...], path: str) -> bool:
    for layer in reversed(layers):
        try:
            st = (layer / path).lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        return stat.S_ISDIR(st.st_mode)
    return False


def collect(tree: SourceTree, sources: list[str], dest: str, layers: tuple[Path, ...],
            options: CopyOptions, target: str) -> dict[str, LayerItem]:  # fmt: skip
    """Layer path (no leading /) -> entry for one COPY; `dest` is absolute."""
    expanded = expand_sources(tree, sources)
    dest_rel = posixpath.normpath(dest).lstrip("/")
    dest_rel = "" if dest_rel == "." else dest_rel
    into = dest.endswith("/") or dest_rel == "" or is_dir_in(layers, dest_rel)
    if len(expanded) > 1 and not dest.endswith("/") and not into:
        raise ValueError("with more than one source, the destination must be a directory "
                         "ending in /")
    items: dict[str, LayerItem] = {}
    for _name, path in expanded:
        if not path.is_symlink() and path.is_dir():
            make_parents(items, dest_rel, layers, options, include_self=True)
            for rel, child in _tree_entries(tree, path):
                items[_join(dest_rel, rel)] = _owned(item_for(child, target), options)
            continue
        target_path = _join(dest_rel, path.name) if into else dest_rel
        make_parents(items, target_path, layers, options, include_self=False)
        items[target_path] = _owned(item_for(path, target), options)
    return items


def _tree_entries(tree: SourceTree, folder: Path) -> list[tuple[str, Path]]:
    """(name relative to `folder`, path) of everything under it that is not ignored, in
    os.walk's order: a folder's sorted entries, then each subfolder's, no symlink followed.
    One scandir a folder and string names: pathlib's relative_to was most of a rebuild's
    walk."""
    entries: list[tuple[str, Path]] = []
    root, top = str(tree.root).rstrip("/"), str(folder).rstrip("/")
    _walk_sorted(tree.rules, top, len(root) + 1, len(top) + 1, entries)
    return entries


def _walk_sorted(rules: IgnoreRules, path: str, cut_root: int, cut_folder: int,
                 out: list[tuple[str, Path]]) -> None:  # fmt: skip
    try:
        with os.scandir(path) as listing:
            found = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return  # as os.walk: an unreadable folder is skipped
    for entry in found:
        if not rules.excluded(entry.path[cut_root:]):
            out.append((entry.path[cut_folder:], Path(entry.path)))
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            _walk_sorted(rules, entry.path, cut_root, cut_folder, out)


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base else rel


def _owned(item: LayerItem, options: CopyOptions) -> LayerItem:
    if options.owner is not None:
        item = replace(item, uid=options.owner[0], gid=options.owner[1])
    if options.mode is not None and item.kind != "symlink":
        item = replace(item, mode=options.mode)
    return item


def make_parents(items: dict[str, LayerItem], dest: str, layers: tuple[Path, ...],
             options: CopyOptions, include_self: bool) -> None:  # fmt: skip
    parts = dest.split("/") if dest else []
    upto = len(parts) if include_self else len(parts) - 1
    for depth in range(1, upto + 1):
        path = "/".join(parts[:depth])
        if path in items:
            continue
        if is_dir_in(layers, path):
            items[path] = base_dir(layers, path)
        else:
            made = LayerItem("dir", 0o755)
            items[path] = replace(made, uid=options.owner[0], gid=options.owner[1]) \
                if options.owner else made


def content_hash(items: dict[str, LayerItem], hashes: HashCache | None = None) -> str:
    """What the cache key knows of a COPY: names, kinds, modes, owners and file content
    (each file's sha256, remembered by `hashes` while its stat says it is unchanged)."""
    hashes = hashes or HashCache(None)
    digest = hashlib.sha256()
    for name in sorted(items):
        item = items[name]
        digest.update(f"{name}\0{item.kind}\0{item.mode:o}\0{item.uid}:{item.gid}\0".encode())
        if item.kind == "symlink" and item.source is not None:
            digest.update(os.readlink(item.source).encode())
        elif item.kind == "file" and item.source is not None:
            digest.update(hashes.file_hash(item.source).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def parse_chmod(value: str) -> int:
    if not value or any(c not in "01234567" for c in value) or len(value) > 4:
        raise ValueError(f"--chmod={value!r}: expected an octal mode such as 755")
    return int(value, 8)
