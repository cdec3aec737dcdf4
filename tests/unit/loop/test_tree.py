"""mirror_tree: the synced tree becomes exactly the revision, in place."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.loop.tree import mirror_tree


def listing(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = f"{path.read_text()} {oct(path.stat().st_mode & 0o777)}"
    return out


def test_files_folders_links_and_removals(tmp_path: Path) -> None:
    one, two, tree = tmp_path / "one", tmp_path / "two", tmp_path / "tree"
    (one / "a").mkdir(parents=True)
    (one / "a" / "x.yaml").write_text("x1")
    (one / "gone.txt").write_text("bye")
    (one / "becomes-dir").write_text("file")
    os.symlink("a/x.yaml", one / "link")
    mirror_tree(one, tree)
    assert listing(tree) == listing(one)
    (two / "a").mkdir(parents=True)
    (two / "a" / "x.yaml").write_text("x2")
    (two / "becomes-dir").mkdir()
    (two / "run.sh").write_text("#!/bin/sh")
    (two / "run.sh").chmod(0o755)
    os.symlink("run.sh", two / "link")
    inode = (tree / "a").stat().st_ino
    mirror_tree(two, tree)
    assert listing(tree) == listing(two)
    assert (tree / "a").stat().st_ino == inode  # folders are kept, so binds of them follow
