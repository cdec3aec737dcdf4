"""ImageStore on the real filesystem: imports, safe unpack, whiteouts, garbage collection.

Root is needed for owners, whiteout device nodes and trusted.* xattrs."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.library import ImageLibrary
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError, NotFound
from tests import image_factory as f
from tests import requirements

pytestmark = [
    pytest.mark.integration,
]

BASE = [
    f.directory("bin"),
    f.file("bin/hello", b"#!/bin/sh\necho hi\n", mode=0o755),
    f.file("bin/suid", b"x", mode=0o4755),
    f.directory("etc"),
    f.file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", uid=0),
    f.file("etc/owned", b"data", uid=101, gid=202, mtime=1_234_567_890),
    f.symlink("bin/sh", "/bin/hello"),
    f.hardlink("bin/hello2", "bin/hello"),
    f.directory("tmp", mode=0o1777),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = ImageLibrary(tmp_path / "state" / "images")
    yield images
    shutil.rmtree(images.root)  # whiteouts and root-owned files: do not leave them to pytest


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    path.mkdir()
    (path / "keep").write_text("untouched")
    return path


def source(path: Path, kind: str = "oci", key: str = "img") -> ImageSource:
    return ImageSource(key=key, kind=kind, identity=f"{kind}:{path}", path=str(path))  # type: ignore[arg-type]


def store_files(store: ImageLibrary) -> list[str]:
    """Everything in blobs/, layers/ and tmp/ (what a failed import must not leave)."""
    found = []
    for area in (store.blobs, store.layers, store.layer_meta, store.tmp):
        found += [str(p.relative_to(store.root)) for p in area.iterdir()]
    return found


def assert_base_unpacked(layer: Path) -> None:
    assert (layer / "bin/hello").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((layer / "bin/hello").stat().st_mode) == 0o755
    assert stat.S_IMODE((layer / "bin/suid").stat().st_mode) == 0o4755
    owned = (layer / "etc/owned").stat()
    assert (owned.st_uid, owned.st_gid, int(owned.st_mtime)) == (101, 202, 1_234_567_890)
    assert os.readlink(layer / "bin/sh") == "/bin/hello"
    assert (layer / "bin/hello2").stat().st_ino == (layer / "bin/hello").stat().st_ino
    assert stat.S_IMODE((layer / "tmp").stat().st_mode) == 0o1777


# --- the three formats -----------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_oci_layout_import(store: ImageLibrary, tmp_path: Path, compress: bool) -> None:
    layout = tmp_path / "layout"
    digest = f.write_oci_layout(layout, [BASE], compress=compress, config={"Cmd": ["sh"]})
    progress: list[tuple[str, int, int | None]] = []
    record = store.ensure(source(layout), lambda *a: progress.append(a))
    assert record.digest == digest
    assert record.config == {"Cmd": ["sh"]}
    assert len(record.layers) == 1
    assert_base_unpacked(record.layers[0])
    assert record.size == sum(len(e.data) for e in BASE if e.kind == "file")
    assert store.identities() == {f"oci:{layout}": digest}
    assert progress and progress[-1][1] == progress[-1][2]
    assert os.listdir(store.tmp) == []


def test_oci_archive_import(store: ImageLibrary, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    digest = f.write_oci_archive(archive, [BASE, [f.file("extra", b"top")]], compress=True)
    record = store.ensure(source(archive, "archive"))
    assert record.digest == digest
    assert_base_unpacked(record.layers[0])
    assert (record.layers[1] / "extra").read_bytes() == b"top"


def test_docker_archive_import(store: ImageLibrary, tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    f.write_docker_archive(archive, [BASE], config={"Env": ["PATH=/bin"], "Cmd": ["sh"]})
    record = store.ensure(source(archive, "archive"))
    assert record.config["Env"] == ["PATH=/bin"]
    assert_base_unpacked(record.layers[0])
    manifest = store.read_blob(record.digest)
    assert b"application/vnd.oci.image.manifest.v1+json" in manifest


def test_ensure_is_idempotent(store: ImageLibrary, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    f.write_oci_layout(layout, [BASE])
    first = store.ensure(source(layout))
    (first.layers[0] / "marker").write_text("still the same directory")
    assert store.ensure(source(layout)) == first
    assert (first.layers[0] / "marker").exists()
    assert store.get(first.identity) == first
    assert store.list() == [first]


def test_shared_layers_are_stored_once(store: ImageLibrary, tmp_path: Path) -> None:
    f.write_oci_layout(tmp_path / "a", [BASE, [f.file("a", b"a")]])
    f.write_oci_layout(tmp_path / "b", [BASE, [f.file("b", b"b")]])
    one = store.ensure(source(tmp_path / "a", key="a"))
    two = store.ensure(source(tmp_path / "b", key="b"))
    assert one.layers[0] == two.layers[0]
    assert len(os.listdir(store.layers)) == 3


def test_ref_image_with_pull_never_is_not_pulled(store: ImageLibrary) -> None:
    ref = ImageSource(key="web", kind="ref", identity="ref:docker.io/library/nginx:1",
                      ref="docker.io/library/nginx:1", pull="never")  # fmt: skip
    with pytest.raises(ImageError, match="not in the image store and pull is never"):
        store.ensure(ref)


# --- verification ------------------------------------------------------------------------


def test_corrupt_layer_blob_is_rejected_and_nothing_kept(store: ImageLibrary,
                                                         tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    good = [f.file("good", b"fine")]
    bad = [f.file("bad", b"0123456789" * 100)]
    f.write_oci_layout(layout, [good, bad])
    _, _, layers = f.image_parts([good, bad])
    f.corrupt_blob(layout, f.oci.sha256_digest(layers[1].blob))
    with pytest.raises(ImageError, match="content does not match"):
        store.ensure(source(layout))
    assert store_files(store) == []
    assert store.identities() == {}


def test_wrong_diff_id_is_rejected(store: ImageLibrary, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    made = f.make_layer([f.file("x", b"x")], compress=True)
    config = f.make_config([f.Layer(made.blob, "sha256:" + "0" * 64, made.media_type)])
    manifest = f.oci.build_manifest(
        f.oci.descriptor(f.oci.MEDIA_CONFIG, config),
        [f.oci.descriptor(made.media_type, made.blob)],
    )
    f.oci.write_layout(layout, manifest, [config, made.blob])
    with pytest.raises(ImageError, match="diff_id"):
        store.ensure(source(layout))
    assert store_files(store) == []


# --- unsafe layers -------------------------------------------------------------------------


def unsafe_cases(canary: Path) -> dict[str, list[f.Entry]]:
    return {
        "absolute path": [f.file(f"{canary}/evil", b"x")],
        "dotdot": [f.file("../../canary/evil", b"x")],
        "dotdot inside": [f.directory("a"), f.file("a/../../evil", b"x")],
        "hardlink escaping": [f.hardlink("passwd", "../../../etc/passwd")],
        "hardlink absolute": [f.hardlink("passwd", "/etc/passwd")],
        "hardlink missing": [f.hardlink("x", "nothere")],
        "hardlink through symlink": [f.symlink("a", str(canary)), f.hardlink("x", "a/keep")],
        "write through symlinked parent": [f.symlink("a", str(canary)), f.file("a/x", b"x")],
        "dir through symlinked parent": [f.symlink("a", str(canary)), f.directory("a/d")],
        "relative symlinked parent": [f.symlink("a", "../../canary"), f.file("a/x", b"x")],
        "whiteout dotdot": [f.directory("d"), f.file("d/.wh...", b"")],
        "whiteout through symlink": [f.symlink("a", str(canary)), f.file("a/.wh.keep", b"")],
        "opaque through symlink": [f.symlink("a", str(canary)), f.file("a/.wh..wh..opq", b"")],
    }


UNSAFE_NAMES = list(unsafe_cases(Path("/x")))


@pytest.mark.parametrize("case", UNSAFE_NAMES)
def test_unsafe_layer_is_refused(
    store: ImageLibrary, tmp_path: Path, canary: Path, case: str
) -> None:
    layout = tmp_path / "layout"
    f.write_oci_layout(layout, [unsafe_cases(canary)[case]])
    with pytest.raises(ImageError) as caught:
        store.ensure(source(layout))
    assert "img" in str(caught.value)
    assert sorted(os.listdir(canary)) == ["keep"]
    assert (canary / "keep").read_text() == "untouched"
    assert "trusted.overlay.opaque" not in os.listxattr(canary)
    assert store_files(store) == []


def test_device_nodes_and_fifos_are_made_as_docker_makes_them(
    store: ImageLibrary, tmp_path: Path, canary: Path
) -> None:
    """A debootstrap or `docker export` root has /dev nodes: made (as root), with their
    modes and owners, in a store no other host user can reach; a node replacing a planted
    symlink never touches the link's target."""
    layout = tmp_path / "layout"
    entries = [
        f.directory("dev"),
        f.Entry("dev/console", "char", mode=0o600, device=(5, 1)),
        f.Entry("dev/null", "char", mode=0o666, device=(1, 3)),
        f.Entry("dev/sda", "block", mode=0o660, gid=6, device=(8, 0)),
        f.Entry("run/initctl", "fifo", mode=0o600),
        f.symlink("trap", str(canary / "keep")),
        f.Entry("trap", "char", mode=0o644, device=(1, 5)),
    ]
    f.write_oci_layout(layout, [entries])
    record = store.ensure(source(layout))
    root = record.layers[0]
    found = {name: os.lstat(root / name) for name in
             ("dev/console", "dev/null", "dev/sda", "run/initctl", "trap")}
    assert stat.S_ISCHR(found["dev/console"].st_mode)
    console = found["dev/console"].st_rdev
    assert (os.major(console), os.minor(console)) == (5, 1)
    assert stat.S_IMODE(found["dev/null"].st_mode) == 0o666
    assert stat.S_ISBLK(found["dev/sda"].st_mode) and found["dev/sda"].st_gid == 6
    assert stat.S_IMODE(found["dev/sda"].st_mode) == 0o660
    assert stat.S_ISFIFO(found["run/initctl"].st_mode)
    assert stat.S_ISCHR(found["trap"].st_mode)
    assert (canary / "keep").read_text() == "untouched"
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700  # only root reaches the nodes


def test_symlink_replaced_by_file_never_writes_through(
    store: ImageLibrary, tmp_path: Path, canary: Path
) -> None:
    layout = tmp_path / "layout"
    entries = [f.symlink("a", str(canary / "keep")), f.file("a", b"replaced")]
    f.write_oci_layout(layout, [entries])
    record = store.ensure(source(layout))
    assert (record.layers[0] / "a").read_bytes() == b"replaced"
    assert not (record.layers[0] / "a").is_symlink()
    assert (canary / "keep").read_text() == "untouched"


# --- whiteouts -------------------------------------------------------------------------------


def test_whiteouts_and_opaque_dirs(store: ImageLibrary, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    top = [
        f.directory("etc"),
        f.file("etc/.wh.passwd", b""),
        f.directory("tmp"),
        f.file("tmp/.wh..wh..opq", b""),
        f.file("tmp/new", b"n"),
    ]
    record = store.ensure(source(_layout(layout, [BASE, top])))
    upper = record.layers[1]
    whiteout = (upper / "etc/passwd").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    assert not (upper / "etc/.wh.passwd").exists()
    assert os.getxattr(upper / "tmp", "trusted.overlay.opaque") == b"y"
    assert not (upper / "tmp/.wh..wh..opq").exists()
    assert (upper / "tmp/new").read_bytes() == b"n"


def _layout(path: Path, layers: list[list[f.Entry]]) -> Path:
    f.write_oci_layout(path, layers)
    return path


# --- crash recovery and removal -------------------------------------------------------------


def test_stale_tmp_of_a_killed_process_is_cleaned(tmp_path: Path) -> None:
    root = tmp_path / "images"
    ImageLibrary(root)
    finished = subprocess.Popen(["true"])
    finished.wait()
    stale = root / "tmp" / f"{finished.pid}-deadbeef-layer"
    (stale / "half" / "done").mkdir(parents=True)
    (stale / "half" / "done" / "file").write_text("partial")
    (root / "tmp" / "garbage").write_text("x")
    store = ImageLibrary(root)
    assert os.listdir(store.tmp) == []
    record = store.ensure(source(_layout(tmp_path / "layout", [BASE])))
    assert_base_unpacked(record.layers[0])


def test_remove_and_prune_keep_shared_layers(store: ImageLibrary, tmp_path: Path) -> None:
    one = store.ensure(source(_layout(tmp_path / "a", [BASE, [f.file("a")]]), key="a"))
    two = store.ensure(source(_layout(tmp_path / "b", [BASE, [f.file("b")]]), key="b"))
    store.remove(one.digest)
    assert store.get(one.identity) is None
    assert store.get(two.identity) == two
    assert all(layer.is_dir() for layer in two.layers)
    assert not one.layers[1].exists()
    with pytest.raises(NotFound):
        store.remove(one.digest)
    assert store.prune({two.identity}) == []
    assert store.prune(set()) == [two.digest]
    assert store_files(store) == []


@pytest.fixture(autouse=True)
def _root() -> None:
    requirements.need_root("unpacking layers (lchown, mknod, trusted xattrs)")
