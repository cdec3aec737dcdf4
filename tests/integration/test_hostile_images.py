"""Hostile images imported from OCI layouts (issue 11): each class stays refused with
its exact error, nothing is written outside the store, and the store is as it was
(refs unchanged, tmp/ empty, no partial layer). Device nodes are another module's rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.native.library import ImageLibrary
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f

pytestmark = [pytest.mark.integration]


def source(path: Path, key: str = "img") -> ImageSource:
    return ImageSource(key=key, kind="oci", identity=f"oci:{path}", path=str(path))


def snapshot(store: ImageLibrary) -> tuple[object, ...]:
    areas = (store.blobs, store.layers, store.layer_meta, store.tmp)
    return (store.identities(), *(sorted(p.name for p in a.iterdir()) for a in areas))


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    path.mkdir()
    (path / "keep").write_text("untouched")
    return path


@pytest.fixture
def store(tmp_path: Path) -> ImageLibrary:
    images = ImageLibrary(tmp_path / "images")
    f.write_oci_layout(tmp_path / "good", [[f.file("good", b"kept")]])
    images.ensure(source(tmp_path / "good", "good"))
    return images


def refused(store: ImageLibrary, layout: Path, canary: Path) -> str:
    before = snapshot(store)
    with pytest.raises(ImageError) as caught:
        store.ensure(source(layout))
    assert snapshot(store) == before
    assert sorted(os.listdir(canary)) == ["keep"]
    assert (canary / "keep").read_text() == "untouched"
    assert "trusted.overlay.opaque" not in os.listxattr(canary)
    return str(caught.value)


def cases(canary: Path) -> dict[str, tuple[list[f.Entry], str]]:
    c = str(canary)
    return {
        "dotdot": ([f.file("a/../../x", b"x")], "layer entry 'a/../../x' has a '..' component"),
        "absolute": ([f.file(f"{c}/x", b"x")], f"layer entry '{c}/x' has an absolute path"),
        "deep symlink parent": (
            [f.symlink("a/b", c), f.file("a/b/c/x", b"x")],
            "layer entry 'a/b/c/x' would be written through 'a/b', which is a symlink or not "
            "a directory; refused"),
        "hardlink through symlink": (
            [f.symlink("l", c), f.hardlink("h", "l/keep")],
            "hard link 'h' -> 'l/keep': target missing in the layer (or reached through a "
            "symlink)"),
        "hardlink to a directory": (
            [f.directory("d"), f.hardlink("h", "d")], "hard link 'h' -> 'd': not a file"),
        "hardlink out": ([f.hardlink("h", "../canary/keep")],
                         "hard link 'h' -> '../canary/keep': target escapes the layer"),
        "opaque through symlink": (
            [f.symlink("d", c), f.file("d/.wh..wh..opq", b"")],
            "layer entry 'd/.wh..wh..opq' would be written through 'd', which is a symlink "
            "or not a directory; refused"),
        "opaque marker as a parent": (
            [f.file(".wh..wh..opq/../x", b"")], "layer entry '.wh..wh..opq/../x' has a '..' "
            "component"),
        "whiteout of dotdot": ([f.file("d/.wh...", b"")],
                               "whiteout 'd/.wh...' names an unsafe path"),
        "whiteout of nothing": ([f.file(".wh.", b"")], "whiteout '.wh.' names an unsafe path"),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(cases(Path("/x"))))
def test_hostile_layer_is_refused(store: ImageLibrary, tmp_path: Path, canary: Path,
                                  case: str) -> None:  # fmt: skip
    entries, expected = cases(canary)[case]
    f.write_oci_layout(tmp_path / "layout", [entries])
    assert refused(store, tmp_path / "layout", canary) == f"img: {expected}"


@pytest.mark.parametrize("digest", ["sha256:../../etc/passwd", "sha256:" + "A" * 64])
def test_digest_used_as_a_path_is_refused(store: ImageLibrary, tmp_path: Path, canary: Path,
                                          digest: str) -> None:  # fmt: skip
    manifest, config, made = f.image_parts([[f.file("x", b"x")]])
    doc = json.loads(manifest)
    doc["layers"][0]["digest"] = digest
    layout = tmp_path / "layout"
    oci.write_layout(layout, oci.canonical_json(doc), [config, made[0].blob])
    assert "malformed digest" in refused(store, layout, canary)


@pytest.mark.parametrize("lie", [-3, 3])
def test_descriptor_size_lie_is_refused(store: ImageLibrary, tmp_path: Path, canary: Path,
                                        lie: int) -> None:  # fmt: skip
    manifest, config, made = f.image_parts([[f.file("x", b"sized" * 50)]], compress=True)
    doc = json.loads(manifest)
    real = doc["layers"][0]["size"]
    doc["layers"][0]["size"] = real + lie
    layout = tmp_path / "layout"
    oci.write_layout(layout, oci.canonical_json(doc), [config, made[0].blob])
    message = refused(store, layout, canary)
    digest = oci.sha256_digest(made[0].blob)
    if lie < 0:  # the layout reader stops at the declared size and reads nothing
        empty = oci.sha256_digest(b"")
        assert message == (f"img: layer blob {digest} ({real + lie} bytes) has digest {empty} "
                           "and 0 bytes: content does not match")  # fmt: skip
    else:
        assert message == (f"img: layer blob {digest} ({real + lie} bytes) has digest {digest} "
                           f"and {real} bytes: content does not match")  # fmt: skip
