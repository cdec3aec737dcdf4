"""Iterative, fd-relative tree removal: deep and wide trees, links never followed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconciler.support.trees import remove_tree

DEPTH = 5000


def deep_tree(root: Path, depth: int) -> None:
    """`depth` nested folders with a file at the bottom, made through dir fds (the whole
    path is far longer than PATH_MAX)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.close(leaf)
    finally:
        os.close(fd)


def test_a_tree_5000_levels_deep_is_removed(tmp_path: Path) -> None:
    deep_tree(tmp_path / "deep", DEPTH)
    with pytest.raises(RecursionError):  # what this replaces
        shutil.rmtree(tmp_path / "deep")
    remove_tree(tmp_path / "deep")
    assert not (tmp_path / "deep").exists()


def test_a_wide_tree_with_files_links_and_fifos_is_removed(tmp_path: Path) -> None:
    root = tmp_path / "wide"
    for i in range(300):
        (root / f"d{i}" / "sub").mkdir(parents=True)
        (root / f"d{i}" / "sub" / "f").write_text("x")
    os.mkfifo(root / "fifo")
    (root / "dangling").symlink_to("/nonexistent")
    remove_tree(root)
    assert not root.exists()


def test_links_are_removed_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "precious").write_text("mine")
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "to-dir").symlink_to(outside)
    (tree / "a" / "to-file").symlink_to(outside / "keep" / "precious")
    os.link(outside / "keep" / "precious", tree / "a" / "hard")
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep" / "precious").read_text() == "mine"


def test_a_file_a_link_and_a_missing_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    remove_tree(tmp_path / "link")
    assert (tmp_path / "file").exists() and not (tmp_path / "link").exists()
    remove_tree(tmp_path / "file")
    remove_tree(tmp_path / "missing")  # no error
    assert list(tmp_path.iterdir()) == []


def test_relative_to_a_directory_fd(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        remove_tree("x", dir_fd=fd)
    finally:
        os.close(fd)
    assert not (tmp_path / "x").exists()


def test_read_only_folders_are_opened_up(tmp_path: Path) -> None:
    (tmp_path / "ro" / "inner").mkdir(parents=True)
    (tmp_path / "ro" / "inner" / "f").write_text("x")
    (tmp_path / "ro" / "inner").chmod(0o500)
    (tmp_path / "ro").chmod(0o500)
    remove_tree(tmp_path / "ro")
    assert not (tmp_path / "ro").exists()
