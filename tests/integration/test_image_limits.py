"""No image may fill the disk (issue 11): sparse entries and zero blocks stay holes, an
image may unpack to at most `ratio` x its compressed size + `allowance`, and the store's
filesystem keeps a free reserve. Real files in tmp dirs; root for the tmpfs case."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.images.limits import UnpackLimits, human
from reconciler.drivers.native.library import ImageLibrary
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f

pytestmark = [pytest.mark.integration]
MIB = 1 << 20


def source(path: Path, key: str = "img") -> ImageSource:
    return ImageSource(key=key, kind="oci", identity=f"oci:{path}", path=str(path))


def make_store(root: Path, limits: UnpackLimits | None = None) -> ImageLibrary:
    store = ImageLibrary(root / "images", limits=UnpackLimits(min_free_bytes=0, min_free_ratio=0))
    good = root / "good"
    f.write_oci_layout(good, [[f.file("good", b"kept")]])
    store.ensure(source(good, "good"))
    store.limits = limits or UnpackLimits()  # the image already there passed the defaults
    return store


def snapshot(store: ImageLibrary) -> tuple[object, ...]:
    areas = (store.blobs, store.layers, store.layer_meta, store.tmp)
    return (store.identities(), *(sorted(p.name for p in a.iterdir()) for a in areas))


def layout_of_tars(path: Path, tars: list[bytes], compress: bool) -> list[int]:
    """An OCI layout whose layers are these tars; returns the blob sizes."""
    layers = []
    for tar in tars:
        diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
        if compress:
            layers.append(f.Layer(gzip.compress(tar, mtime=0), diff_id, oci.MEDIA_LAYER_GZIP))
        else:
            layers.append(f.Layer(tar, diff_id, oci.MEDIA_LAYER))
    config = f.make_config(layers)
    descriptors = [oci.descriptor(x.media_type, x.blob) for x in layers]
    manifest = oci.build_manifest(oci.descriptor(oci.MEDIA_CONFIG, config), descriptors)
    oci.write_layout(path, manifest, [config, *(x.blob for x in layers)])
    return [len(x.blob) for x in layers]


def refused(store: ImageLibrary, layout: Path) -> str:
    before = snapshot(store)
    with pytest.raises(ImageError) as caught:
        store.ensure(source(layout))
    assert snapshot(store) == before and list(store.tmp.iterdir()) == []
    return str(caught.value)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = make_store(tmp_path)
    yield images
    shutil.rmtree(images.root, ignore_errors=True)


# -- sparse files stay sparse ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_tar_entry_is_written_as_holes(store: ImageLibrary, tmp_path: Path,
                                              fmt: str) -> None:  # fmt: skip
    work = tmp_path / "src"
    work.mkdir()
    big = work / "big"
    with big.open("wb") as out:
        out.truncate(8 << 30)  # 8 GiB, almost all hole
        out.seek(5 << 30)
        out.write(b"middle")
        out.seek((8 << 30) - 4)
        out.write(b"tail")
    tar = subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", str(work), "-cf", "-",
                          "big"], check=True, capture_output=True).stdout  # fmt: skip
    assert len(tar) < 64 << 10
    layout_of_tars(tmp_path / "layout", [tar], compress=False)
    record = store.ensure(source(tmp_path / "layout"))
    written = record.layers[0] / "big"
    st = written.stat()
    assert st.st_size == 8 << 30 and st.st_blocks * 512 < MIB
    with written.open("rb") as back:
        back.seek(5 << 30)
        assert back.read(6) == b"middle"
        back.seek((8 << 30) - 4)
        assert back.read() == b"tail"
        back.seek(1 << 30)
        assert back.read(4096) == bytes(4096)


def test_zero_runs_of_a_plain_file_become_holes(store: ImageLibrary, tmp_path: Path) -> None:
    data = bytes(32 * MIB) + b"data in the middle" + bytes(32 * MIB) + b"end"
    layout_of_tars(tmp_path / "layout", [f.layer_tar([f.file("zeros", data)])], compress=True)
    record = store.ensure(source(tmp_path / "layout"))
    written = record.layers[0] / "zeros"
    assert written.stat().st_size == len(data) and written.stat().st_blocks * 512 < MIB
    assert hashlib.sha256(written.read_bytes()).digest() == hashlib.sha256(data).digest()


# -- the unpacked-size limit -----------------------------------------------------------


def test_gzip_bomb_passes_the_unpacked_limit(tmp_path: Path) -> None:
    limits = UnpackLimits(ratio=10, allowance=8 * MIB)
    store = make_store(tmp_path, limits)
    sizes = layout_of_tars(tmp_path / "bomb", [f.layer_tar([f.file("z", bytes(64 * MIB))])],
                           compress=True)  # fmt: skip
    assert sizes[0] < 128 << 10  # 64 MiB of zeros compress ~1000:1
    message = refused(store, tmp_path / "bomb")
    limit = 10 * sizes[0] + 8 * MIB
    assert message == (f"img: image unpacks to more than {human(limit)}: the limit is 10 x its "
                       f"{human(sizes[0])} of compressed layers + 8 MiB; refused")  # fmt: skip


def test_the_limit_is_for_the_whole_image(tmp_path: Path) -> None:
    """Two layers each under the limit, together over it."""
    store = make_store(tmp_path, UnpackLimits(ratio=0, allowance=5 * MIB))
    tars = [f.layer_tar([f.file(name, os.urandom(3 * MIB))]) for name in ("a", "b")]
    sizes = layout_of_tars(tmp_path / "two", tars, compress=True)
    message = refused(store, tmp_path / "two")
    assert message == (f"img: image unpacks to more than 5 MiB: the limit is 0 x its "
                       f"{human(sum(sizes))} of compressed layers + 5 MiB; refused")


# -- the free-disk reserve -------------------------------------------------------------


def test_reserve_refuses_before_writing(tmp_path: Path) -> None:
    store = make_store(tmp_path, UnpackLimits(min_free_bytes=1 << 60))
    layout_of_tars(tmp_path / "layout", [f.layer_tar([f.file("x", b"x")])], compress=False)
    message = refused(store, tmp_path / "layout")
    assert re.fullmatch(rf"img: the image store's filesystem \({re.escape(str(store.root))}\) "
                        r"would drop below \S+ TiB free \(\S+ \S+ free now\); refused",
                        message), message  # fmt: skip


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_reserve_stops_a_layer_midway(tmp_path: Path, small_fs: Path) -> None:
    store = make_store(small_fs, UnpackLimits(min_free_bytes=20 * MIB, min_free_ratio=0))
    layout_of_tars(tmp_path / "layout", [f.layer_tar([f.file("r", os.urandom(30 * MIB))])],
                   compress=False)  # fmt: skip
    message = refused(store, tmp_path / "layout")
    assert re.fullmatch(rf"img: the image store's filesystem \({re.escape(str(store.root))}\) "
                        r"would drop below 20 MiB free \(1\d\.?\d* MiB free now\); refused",
                        message), message  # fmt: skip
    used = shutil.disk_usage(small_fs)
    assert used.used < 2 * MIB  # the blob copy and the partial layer are gone
