"""Pure parts of the native image code: digests, manifest selection, source reading,
docker-archive conversion, unsafe names, build config merge, the busybox image script."""

from __future__ import annotations

import importlib.util
import io
import json
import platform
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.images.build import merge_env, scratch_config, updated_config
from reconciler.drivers.images.unpack import LayerUnpacker, decompressed, split_name
from reconciler.model.desired import BuildSpec
from reconciler.model.errors import ImageError
from tests import image_factory as f
from tests import requirements

# --- digests -------------------------------------------------------------------------------


def test_digest_helpers() -> None:
    digest = oci.sha256_digest(b"abc")
    assert digest == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert oci.digest_hex(digest) == digest[7:]
    assert oci.descriptor("t", b"abc") == {"mediaType": "t", "digest": digest, "size": 3}


@pytest.mark.parametrize(
    "bad", ["sha256:../../etc/passwd", "sha512:" + "a" * 128, "sha256:" + "A" * 64, "", "abc"]
)
def test_malformed_digests_are_refused(bad: str) -> None:
    with pytest.raises(oci.FormatError, match="digest"):
        oci.digest_hex(bad)


def test_canonical_json_is_order_independent() -> None:
    assert oci.canonical_json({"b": 1, "a": [1, 2]}) == oci.canonical_json({"a": [1, 2], "b": 1})
    assert oci.canonical_json({"a": 1}) == b'{"a":1}'


def test_check_blob_size_and_digest() -> None:
    oci.check_blob(b"abc", oci.descriptor("t", b"abc"))
    with pytest.raises(oci.FormatError, match="does not match"):
        oci.check_blob(b"abd", oci.descriptor("t", b"abc"))
    with pytest.raises(oci.FormatError, match="bytes"):
        oci.check_blob(b"abc", {"digest": oci.sha256_digest(b"abc"), "size": 4})


# --- manifest selection ------------------------------------------------------------------


def entry(arch: str, os_name: str = "linux", **extra: Any) -> dict[str, Any]:
    return {"digest": f"sha256:{arch}", "platform": {"os": os_name, "architecture": arch}, **extra}


def test_select_only_manifest_whatever_its_platform() -> None:
    only = entry("s390x")
    assert oci.select_manifest({"manifests": [only]}, "x") == only


def test_select_host_platform_among_several(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    index = {"manifests": [entry("amd64"), entry("arm64"), entry("unknown", "unknown")]}
    assert oci.select_manifest(index, "x")["digest"] == "sha256:arm64"


def test_attestations_do_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    attestation = entry("amd64", annotations={"vnd.docker.reference.type": "attestation-manifest"})
    assert oci.select_manifest({"manifests": [attestation, entry("arm")]}, "x") == entry("arm")


def test_no_matching_platform_lists_what_is_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    with pytest.raises(oci.FormatError, match="linux/amd64 among 2: linux/arm, linux/arm64"):
        oci.select_manifest({"manifests": [entry("arm64"), entry("arm")]}, "x")
    with pytest.raises(oci.FormatError, match="no manifests"):
        oci.select_manifest({"manifests": []}, "x")


# --- reading sources ---------------------------------------------------------------------

LAYERS = [[f.directory("bin"), f.file("bin/x", b"x")], [f.file("y", b"y")]]


def read(path: Path) -> oci.ImageSourceData:
    reader = oci.BlobReader(path)
    try:
        data = oci.read_source(reader)
        for layer in data.layers:  # every blob opens and has the announced size
            with data.open_blob(layer.digest) as blob:
                assert len(blob.read()) == layer.size
        return data
    finally:
        reader.close()


def test_read_oci_layout_and_archive(tmp_path: Path) -> None:
    digest = f.write_oci_layout(tmp_path / "layout", LAYERS, compress=True)
    folder = read(tmp_path / "layout")
    assert folder.manifest_digest == digest
    assert [layer.media_type for layer in folder.layers] == [oci.MEDIA_LAYER_GZIP] * 2
    archived = read(f.tar_directory(tmp_path / "layout", tmp_path / "image.tar"))
    assert archived.manifest == folder.manifest


def test_nested_index_is_followed(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    digest = f.write_oci_layout(layout, LAYERS)
    inner = (layout / "index.json").read_bytes()
    outer = {"schemaVersion": 2, "manifests": [oci.descriptor(oci.MEDIA_INDEX, inner)]}
    oci.write_layout(layout, inner, [])  # store the inner index as a blob
    (layout / "index.json").write_bytes(json.dumps(outer).encode())
    assert read(layout).manifest_digest == digest


def test_docker_archive_becomes_an_oci_manifest(tmp_path: Path) -> None:
    config = f.write_docker_archive(tmp_path / "saved.tar", LAYERS)
    data = read(tmp_path / "saved.tar")
    manifest = json.loads(data.manifest)
    assert manifest["mediaType"] == oci.MEDIA_MANIFEST
    assert manifest["config"]["digest"] == oci.sha256_digest(config)
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    assert [layer.digest for layer in data.layers] == diff_ids  # uncompressed: digest = diff_id
    assert data.manifest_digest == oci.sha256_digest(data.manifest)


def test_docker_archive_with_two_images_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "two.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        payload = json.dumps([{"Config": "a", "Layers": []}, {"Config": "b", "Layers": []}])
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload.encode()))
    with pytest.raises(oci.FormatError, match="exactly one image, found 2"):
        read(archive)


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(oci.FormatError, match="not an OCI image layout"):
        read(tmp_path / "empty")
    (tmp_path / "junk").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(oci.FormatError, match="neither a folder nor a readable tar"):
        oci.BlobReader(tmp_path / "junk")


# --- unsafe names (no root needed: refused before anything privileged) --------------------


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/b/..", "a\0b"])
def test_split_name_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(ImageError, match="layer entry"):
        split_name(name, "img")


def test_split_name_normalizes() -> None:
    assert split_name("./a//b/./c/", "img") == ("a", "b", "c")
    assert split_name("./", "img") == ()


def test_symlinked_parent_is_never_followed(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    root.mkdir()
    tar = f.layer_tar([f.symlink("a", str(outside)), f.file("a/x", b"x")])
    with pytest.raises(ImageError, match="'a/x' would be written through 'a'"):
        LayerUnpacker(root, "img").run(io.BytesIO(tar))
    assert list(outside.iterdir()) == []


# --- build config ----------------------------------------------------------------------------


def test_merge_env_keeps_order_and_replaces_by_name() -> None:
    assert merge_env(["PATH=/bin", "A=1", "EMPTY="], [("A", "2"), ("B", "x=y")]) == [
        "PATH=/bin",
        "A=2",
        "EMPTY=",
        "B=x=y",
    ]


def test_updated_config_records_layer_and_history() -> None:
    spec = BuildSpec(base="scratch", cmd=("run",), workdir="/w")
    config = updated_config(scratch_config(), spec, "sha256:" + "1" * 64)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64]
    assert config["config"] == {"Cmd": ["run"], "WorkingDir": "/w"}
    assert config["history"][-1]["created"] == "1970-01-01T00:00:00Z"
    no_layer = updated_config(scratch_config(), spec, None)
    assert no_layer["history"][-1]["empty_layer"] is True
    assert updated_config(scratch_config(), spec, None) == no_layer


# --- scripts/make-busybox-image.py --------------------------------------------------------


def busybox_script() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "scripts" / "make-busybox-image.py"
    spec = importlib.util.spec_from_file_location("make_busybox_image", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_busybox_image_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements.need(Path("/bin/busybox").is_file(), "needs /bin/busybox (busybox-static)")
    script = busybox_script()
    assert script.main([str(tmp_path / "bb")]) == 0
    first = (tmp_path / "bb" / "index.json").read_bytes()
    assert script.main([str(tmp_path / "bb")]) == 0
    assert (tmp_path / "bb" / "index.json").read_bytes() == first
    data = read(tmp_path / "bb")
    assert json.loads(data.config)["config"]["Cmd"] == ["sh"]
    with data.open_blob(data.layers[0].digest) as blob, tarfile.open(fileobj=blob) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
    assert members["tmp"].mode == 0o1777
    assert {"etc/passwd", "etc/group", "root", "var/www", "bin/busybox"} <= set(members)


def test_busybox_script_fails_clearly_without_busybox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert busybox_script().main([str(tmp_path / "bb"), "--busybox", str(tmp_path / "no")]) == 1
    assert "busybox-static" in capsys.readouterr().err
    assert not (tmp_path / "bb").exists()


def test_zstd_layers_need_zstd_support() -> None:
    frame = b"\x28\xb5\x2f\xfd" + b"\x00" * 16
    try:
        import zstandard  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(ImageError, match="zstd"):
            decompressed(io.BytesIO(frame), "img")
    else:
        assert decompressed(io.BytesIO(frame), "img") is not None


def test_gzip_is_detected_from_the_bytes() -> None:
    layer = f.make_layer([f.file("x", b"x")], compress=True)
    assert decompressed(io.BytesIO(layer.blob), "img").read() == f.layer_tar([f.file("x", b"x")])
