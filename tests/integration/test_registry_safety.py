"""Hostile images and registries: every case is refused and nothing lands in the store
(or outside it). Tampered blobs and crafted layers are served by the real docker-registry;
what it refuses to serve (ambiguous manifests, malformed digests) and the auth protocol
cases come from a scripted server (tests/hostile_registry.py)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.native.library import ImageLibrary
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f
from tests.hostile_registry import Hostile
from tests.registry_helpers import Registry, started_registry, stop_registry

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    server = started_registry()
    yield server
    stop_registry(server)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile().start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = ImageLibrary(tmp_path / "images", RegistryOptions())
    yield images
    shutil.rmtree(images.root, ignore_errors=True)


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    path.mkdir()
    (path / "keep").write_text("untouched")
    return path


def pull(store: ImageLibrary, ref: str) -> str:
    image = ImageSource(key="img", kind="ref", identity=f"ref:{ref}", ref=ref)
    return store.ensure(image).digest


def assert_nothing_stored(store: ImageLibrary) -> None:
    kept = [p.name for d in (store.blobs, store.layers, store.tmp) for p in d.iterdir()]
    assert kept == [] and store.identities() == {}


# -- blobs --------------------------------------------------------------------------------


def _one_layer(registry: Registry, name: str, data: bytes = b"payload" * 512) -> f.Layer:
    manifest, config, made = f.image_parts([[f.file("x", data)]], compress=True)
    registry.push_image(name, "v1", manifest, config, [made[0].blob])
    return made[0]


def test_blob_not_matching_its_digest(registry: Registry, store: ImageLibrary) -> None:
    layer = _one_layer(registry, "bad/digest")
    stored = registry.blob_file(oci.sha256_digest(layer.blob))
    tampered = bytearray(stored.read_bytes())
    tampered[-9] ^= 0xFF  # same size, different content
    stored.write_bytes(bytes(tampered))
    with pytest.raises(ImageError, match="content does not match"):
        pull(store, f"{registry.host}/bad/digest:v1")
    assert_nothing_stored(store)


def test_corrupt_layer_among_parallel_ones_leaves_nothing_half_done(
    registry: Registry, store: ImageLibrary
) -> None:
    """One of four layers fetched at once is corrupt half-way (its inflater may fail
    first: the blob's digest is still what is reported): the pull fails naming it, the
    others are stopped or kept complete, nothing is left in tmp/ or visible for the bad
    layer, no ref; once the registry serves the right bytes, the next pull converges."""
    # compressible (real deflate blocks, not stored ones), 3 MiB unpacked each
    layers = [[f.file(f"data/{i}", os.urandom(64 << 10) * 48)] for i in range(4)]
    manifest, config, made = f.image_parts(layers, compress=True)
    registry.push_image("bad/parallel", "v1", manifest, config, [m.blob for m in made])
    bad = made[1]
    stored = registry.blob_file(oci.sha256_digest(bad.blob))
    good_bytes = stored.read_bytes()
    tampered = bytearray(good_bytes)
    tampered[len(tampered) // 2] ^= 0xFF  # same size; the deflate stream breaks mid-layer
    stored.write_bytes(bytes(tampered))
    ref = f"{registry.host}/bad/parallel:v1"
    with pytest.raises(ImageError, match=f"{oci.sha256_digest(bad.blob)}.*does not match"):
        pull(store, ref)
    assert list(store.tmp.iterdir()) == [] and store.identities() == {}
    assert not (store.layers / oci.digest_hex(bad.diff_id)).exists()
    assert not store.blob_path(oci.sha256_digest(bad.blob)).exists()
    assert not store.blob_path(oci.sha256_digest(config)).exists()
    for layer in made:  # every other layer: absent, or there complete and proven
        there = (store.layers / oci.digest_hex(layer.diff_id)).exists()
        assert there == store.has_layer(oci.sha256_digest(layer.blob), layer.diff_id)
    stored.write_bytes(good_bytes)
    assert pull(store, ref) == oci.sha256_digest(manifest)
    for i, layer in enumerate(made):
        unpacked = store.layers / oci.digest_hex(layer.diff_id) / "data" / str(i)
        assert unpacked.read_bytes() == layers[i][0].data
    assert list(store.tmp.iterdir()) == []


def test_body_longer_than_declared(registry: Registry, store: ImageLibrary) -> None:
    layer = _one_layer(registry, "bad/long")
    with registry.blob_file(oci.sha256_digest(layer.blob)).open("ab") as stored:
        stored.write(b"trailing bytes the manifest does not declare")
    with pytest.raises(ImageError, match="refused"):
        pull(store, f"{registry.host}/bad/long:v1")
    assert_nothing_stored(store)


def test_size_not_matching_the_descriptor(registry: Registry, store: ImageLibrary) -> None:
    manifest, config, made = f.image_parts([[f.file("x", b"sized" * 100)]], compress=True)
    registry.push_image("bad/size", "v0", manifest, config, [made[0].blob])
    doc = json.loads(manifest)
    doc["layers"][0]["size"] -= 7
    registry.push_manifest("bad/size", "v1", oci.canonical_json(doc), oci.MEDIA_MANIFEST)
    with pytest.raises(ImageError, match="declares"):
        pull(store, f"{registry.host}/bad/size:v1")
    assert_nothing_stored(store)


# -- manifests (scripted server) ----------------------------------------------------------


@pytest.mark.parametrize("digest", ["sha256:../../../../etc/passwd", "sha256:abcd", "md5:00"])
def test_malformed_digests_are_never_used(hostile: Hostile, store: ImageLibrary,
                                          digest: str) -> None:
    manifest, config, _made = f.image_parts([[f.file("x", b"x")]])
    doc = json.loads(manifest)
    doc["layers"][0]["digest"] = digest
    hostile.serve_image("m/x", "v1", oci.canonical_json(doc), oci.MEDIA_MANIFEST, [config])
    with pytest.raises(ImageError, match="malformed digest"):
        pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert not [s.path for s in hostile.seen if ".." in s.path or "abcd" in s.path]
    assert_nothing_stored(store)


def test_manifest_that_is_also_an_index(hostile: Hostile, store: ImageLibrary) -> None:
    manifest, config, made = f.image_parts([[f.file("x", b"x")]])
    doc = {**json.loads(manifest), "manifests": []}
    hostile.serve_image("m/x", "v1", oci.canonical_json(doc), oci.MEDIA_MANIFEST,
                        [config, made[0].blob])  # fmt: skip
    with pytest.raises(ImageError, match="both an index and an image manifest"):
        pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert_nothing_stored(store)


def test_media_type_disagreeing_with_content_type(hostile: Hostile, store: ImageLibrary) -> None:
    manifest, config, made = f.image_parts([[f.file("x", b"x")]])
    hostile.serve_image("m/x", "v1", manifest, oci.DOCKER_MANIFEST, [config, made[0].blob])
    with pytest.raises(ImageError, match="disagrees with the Content-Type"):
        pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert_nothing_stored(store)


def test_content_digest_header_lying(hostile: Hostile, store: ImageLibrary) -> None:
    manifest, _config, _made = f.image_parts([[f.file("x", b"x")]])
    lie = "sha256:" + "0" * 64
    hostile.routes["/v2/"] = (200, {}, b"{}")
    hostile.routes["/v2/m/x/manifests/v1"] = (
        200, {"Content-Type": oci.MEDIA_MANIFEST, "Docker-Content-Digest": lie}, manifest)
    with pytest.raises(ImageError, match="does not match its content"):
        pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert_nothing_stored(store)


# -- layers -------------------------------------------------------------------------------


def _hostile_layers(canary: Path) -> dict[str, list[list[f.Entry]]]:
    return {
        "dotdot": [[f.file("../escape", b"x")]],
        "absolute": [[f.file(str(canary / "abs"), b"x")]],
        "symlink-parent": [[f.symlink("link", str(canary)), f.file("link/owned", b"x")]],
        "hardlink-out": [[f.hardlink("h", "../../canary/keep")]],
        "whiteout-out": [[f.directory("d"), f.file("d/.wh..", b"")]],
        "whiteout-slash": [[f.file(".wh.x/../../keep", b"")]],
    }


REFUSALS = {
    "dotdot": "'..' component",
    "absolute": "absolute path",
    "symlink-parent": "written through 'link', which is a symlink",
    "hardlink-out": "target escapes the layer",
    "whiteout-out": "whiteout 'd/.wh..' names an unsafe path",
    "whiteout-slash": "'..' component",
}


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink-parent", "hardlink-out",
                                  "whiteout-out", "whiteout-slash"])  # fmt: skip
def test_escaping_layers_are_refused(registry: Registry, store: ImageLibrary, canary: Path,
                                     case: str) -> None:  # fmt: skip
    registry.push_entries(f"evil/{case}", "v1", _hostile_layers(canary)[case])
    with pytest.raises(ImageError, match=REFUSALS[case]):
        pull(store, f"{registry.host}/evil/{case}:v1")
    assert sorted(p.name for p in canary.iterdir()) == ["keep"]
    assert (canary / "keep").read_text() == "untouched"
    assert_nothing_stored(store)


def test_symlinked_parent_swapped_between_layers_stays_inside(
    registry: Registry, store: ImageLibrary, canary: Path
) -> None:
    layers = [[f.symlink("a", str(canary))], [f.directory("a"), f.file("a/pwned", b"x")]]
    registry.push_entries("evil/swap", "v1", layers)
    pull(store, f"{registry.host}/evil/swap:v1")
    assert sorted(p.name for p in canary.iterdir()) == ["keep"]
    record = store.list()[0]
    written = record.layers[1] / "a"
    assert written.is_dir() and not written.is_symlink()
    assert (written / "pwned").read_bytes() == b"x"


# -- credentials (scripted server) ---------------------------------------------------------


def _creds(tmp_path: Path, host: str) -> RegistryOptions:
    auth = base64.b64encode(b"alice:s3cret-pw").decode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return RegistryOptions(config_path=path)


def _bearer_registry(hostile: Hostile, realm: str) -> str:
    manifest, config, made = f.image_parts([[f.file("x", b"token-protected")]])
    hostile.serve_image("p/x", "v1", manifest, oci.MEDIA_MANIFEST, [config, made[0].blob])
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="test"'}
    protected = dict(hostile.routes)
    for path, answer in protected.items():
        hostile.routes[path] = _require_token(answer, challenge)  # type: ignore[arg-type]
    return oci.sha256_digest(manifest)


def _require_token(answer: tuple[int, dict[str, str], bytes],
                   challenge: dict[str, str]) -> object:  # fmt: skip
    def route(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") == "Bearer tok-1":
            return answer
        return 401, challenge, b'{"errors":[{"code":"UNAUTHORIZED"}]}'

    return route


def test_token_realm_on_another_host_gets_no_password(hostile: Hostile, tmp_path: Path) -> None:
    realm = Hostile().start()
    try:
        realm.routes["/token"] = (200, {}, b'{"token":"tok-1","expires_in":300}')
        digest = _bearer_registry(hostile, f"http://localhost:{realm.port}/token")
        host = f"127.0.0.1:{hostile.port}"
        store = ImageLibrary(tmp_path / "images", _creds(tmp_path, host))
        assert pull(store, f"{host}/p/x:v1") == digest
        assert realm.seen and all("authorization" not in s.headers for s in realm.seen)
        assert "scope=repository%3Ap%2Fx%3Apull" in realm.seen[0].path
    finally:
        realm.stop()


def test_token_realm_on_the_registry_host_gets_the_password(hostile: Hostile,
                                                            tmp_path: Path) -> None:  # fmt: skip
    host = f"127.0.0.1:{hostile.port}"
    digest = _bearer_registry(hostile, f"http://{host}/token")
    hostile.routes["/token"] = (200, {}, b'{"token":"tok-1","expires_in":300}')
    store = ImageLibrary(tmp_path / "images", _creds(tmp_path, host))
    assert pull(store, f"{host}/p/x:v1") == digest
    sent = [s.headers.get("authorization", "") for s in hostile.seen if s.path.startswith("/token")]
    assert sent and sent[0].startswith("Basic ")


def test_expired_token_is_refreshed(hostile: Hostile, tmp_path: Path) -> None:
    issued = iter([b'{"token":"stale","expires_in":300}', b'{"token":"tok-1","expires_in":300}'])
    host = f"127.0.0.1:{hostile.port}"
    digest = _bearer_registry(hostile, f"http://{host}/token")
    hostile.routes["/token"] = lambda _h: (200, {}, next(issued))
    assert pull(ImageLibrary(tmp_path / "images", RegistryOptions()), f"{host}/p/x:v1") == digest
    assert len([s for s in hostile.seen if s.path.startswith("/token")]) == 2


def test_redirect_to_another_origin_carries_no_credentials(hostile: Hostile,
                                                           tmp_path: Path) -> None:  # fmt: skip
    storage = Hostile().start()
    try:
        manifest, config, made = f.image_parts([[f.file("x", b"redirected")]])
        hostile.serve_image("p/x", "v1", manifest, oci.MEDIA_MANIFEST, [config])
        layer_path = f"/v2/p/x/blobs/{oci.sha256_digest(made[0].blob)}"
        hostile.routes[layer_path] = (307, {"Location": f"http://localhost:{storage.port}/b"}, b"")
        storage.routes["/b"] = (200, {}, made[0].blob)
        basic = {"WWW-Authenticate": 'Basic realm="test"'}
        for path, answer in dict(hostile.routes).items():
            hostile.routes[path] = _require_basic(answer, basic)  # type: ignore[arg-type]
        host = f"127.0.0.1:{hostile.port}"
        store = ImageLibrary(tmp_path / "images", _creds(tmp_path, host))
        assert pull(store, f"{host}/p/x:v1") == oci.sha256_digest(manifest)
        assert storage.seen and all("authorization" not in s.headers for s in storage.seen)
    finally:
        storage.stop()


def _require_basic(answer: tuple[int, dict[str, str], bytes],
                   challenge: dict[str, str]) -> object:  # fmt: skip
    def route(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization", "").startswith("Basic "):
            return answer
        return 401, challenge, b""

    return route
