"""Pulls from a real docker-registry on 127.0.0.1: run, pins, moved tags, auth, resume.

Safety cases (tampered blobs, hostile manifests and layers) are in test_registry_safety.py."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.native.driver import NativeDriver
from reconciler.drivers.native.library import ImageLibrary
from reconciler.drivers.native.registry import pull as pull_module
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f
from tests.integration.native_helpers import NativeHarness, require_host
from tests.registry_helpers import Registry, retag_with_env, started_registry, stop_registry

pytestmark = [pytest.mark.integration, pytest.mark.registry]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    server = started_registry()
    yield server
    stop_registry(server)


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[Registry]:
    server = started_registry(user="alice", password="s3cret-pw")
    yield server
    stop_registry(server)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = ImageLibrary(tmp_path / "images", RegistryOptions())
    yield images
    shutil.rmtree(images.root, ignore_errors=True)


def ref_source(ref: str, pull: str = "missing", key: str = "img") -> ImageSource:
    return ImageSource(key=key, kind="ref", identity=f"ref:{ref}", ref=ref, pull=pull)  # type: ignore[arg-type]


def layers_of(tag: str, count: int = 2) -> list[list[f.Entry]]:
    return [[f.file(f"data/{tag}-{i}", os.urandom(4096) + tag.encode())] for i in range(count)]


class Recorder:
    """A progress callback remembering which layers were downloaded."""

    def __init__(self) -> None:
        self.layers: set[str] = set()

    def __call__(self, what: str, done: int, total: int | None) -> None:
        self.layers.add(what.removeprefix("layer "))


# -- pull and run -------------------------------------------------------------------------


@pytest.fixture
def pulled_busybox(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    require_host()
    layout = tmp_path_factory.mktemp("busybox-layout")
    script = REPO / "scripts" / "make-busybox-image.py"
    subprocess.run([sys.executable, str(script), str(layout)], check=True, capture_output=True)
    registry.push_layout("tools/busybox", "1.36", layout)
    return f"{registry.host}/tools/busybox:1.36"


def test_pulled_busybox_runs_through_the_native_driver(pulled_busybox: str,
                                                       tmp_path: Path) -> None:  # fmt: skip
    driver = NativeDriver(tmp_path / "state", registry=RegistryOptions())
    image = ref_source(pulled_busybox, key="bb")
    digest = driver.ensure_image(image)
    assert driver.observe().images[image.identity] == digest
    harness = NativeHarness(driver, image)
    try:
        spec = harness.run("hello", ["sh", "-c", "echo pulled-and-running"])
        assert harness.exit_record(spec.name)["exit_code"] == 0
        assert [line.text for line in driver.logs(spec.name)] == ["pulled-and-running"]
    finally:
        for name in harness.names:
            driver.remove(name)
        assert harness.leaks() == []
        shutil.rmtree(driver.layout.root, ignore_errors=True)


# -- references, pins, moved tags ---------------------------------------------------------


def test_pull_missing_uses_the_store_and_pull_never_refuses(registry: Registry,
                                                           store: ImageLibrary,
                                                           ) -> None:  # fmt: skip
    digest = registry.push_entries("app/one", "v1", layers_of("one"))
    ref = f"{registry.host}/app/one:v1"
    assert store.ensure(ref_source(ref)).digest == digest
    recorder = Recorder()
    assert store.ensure(ref_source(ref), recorder).digest == digest
    assert recorder.layers == set()  # present: no registry traffic for layers
    with pytest.raises(ImageError, match="pull is never"):
        store.ensure(ref_source(f"{registry.host}/app/other:v1", pull="never"))


def test_digest_pin_pulls_exactly_that_manifest(registry: Registry, store: ImageLibrary) -> None:
    first = registry.push_entries("app/pin", "v1", layers_of("pin-a"))
    registry.push_entries("app/pin", "v1", layers_of("pin-b"))  # the tag moves on
    ref = f"{registry.host}/app/pin@{first}"
    assert store.ensure(ref_source(ref)).digest == first
    assert store.identities()[f"ref:{ref}"] == first


def test_moved_tag_is_noticed_on_pull_always(registry: Registry, store: ImageLibrary) -> None:
    ref = f"{registry.host}/app/moving:latest"
    old = registry.push_entries("app/moving", "latest", layers_of("old"))
    assert store.ensure(ref_source(ref, pull="always")).digest == old
    new = registry.push_entries("app/moving", "latest", layers_of("new"))
    assert store.ensure(ref_source(ref, pull="missing")).digest == old  # missing: no lookup
    assert store.ensure(ref_source(ref, pull="always")).digest == new
    assert store.identities()[f"ref:{ref}"] == new


def test_index_picks_the_host_platform(registry: Registry, store: ImageLibrary) -> None:
    host_os, host_arch = oci.host_platform()
    mine = registry.push_entries("app/multi", "host-only", layers_of("mine"))
    other = registry.push_entries("app/multi", "other-only", layers_of("other"))
    index = _index(registry, [(mine, host_os, host_arch), (other, "linux", "s390x")])
    registry.push_manifest("app/multi", "v1", index, oci.MEDIA_INDEX)
    assert store.ensure(ref_source(f"{registry.host}/app/multi:v1")).digest == mine
    foreign = _index(registry, [(other, "linux", "s390x"), (other, "windows", "amd64")])
    registry.push_manifest("app/multi", "foreign", foreign, oci.MEDIA_INDEX)
    with pytest.raises(ImageError) as caught:
        store.ensure(ref_source(f"{registry.host}/app/multi:foreign"))
    assert f"{host_os}/{host_arch}" in str(caught.value)
    assert "available: linux/s390x, windows/amd64" in str(caught.value)


def _index(registry: Registry, entries: list[tuple[str, str, str]]) -> bytes:
    manifests = [{"mediaType": oci.MEDIA_MANIFEST, "digest": d, "size": registry.sizes[d],
                  "platform": {"os": o, "architecture": a}} for d, o, a in entries]  # fmt: skip
    return oci.canonical_json({"schemaVersion": 2, "mediaType": oci.MEDIA_INDEX,
                               "manifests": manifests})  # fmt: skip


def test_zstd_layers_are_pulled(registry: Registry, store: ImageLibrary) -> None:
    import zstandard

    tar = f.layer_tar([f.file("z/data", b"zstd content" * 1000)])
    layer = f.Layer(zstandard.ZstdCompressor().compress(tar), oci.sha256_digest(tar),
                    oci.MEDIA_LAYER_ZSTD)  # fmt: skip
    config = f.make_config([layer])
    manifest = oci.build_manifest(oci.descriptor(oci.MEDIA_CONFIG, config),
                                  [oci.descriptor(layer.media_type, layer.blob)])  # fmt: skip
    registry.push_image("app/zstd", "v1", manifest, config, [layer.blob])
    record = store.ensure(ref_source(f"{registry.host}/app/zstd:v1"))
    assert (record.layers[0] / "z" / "data").read_bytes() == b"zstd content" * 1000


# -- auth ---------------------------------------------------------------------------------


def _docker_config(path: Path, host: str, user: str, password: str) -> Path:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return path


def test_password_protected_registry(auth_registry: Registry, tmp_path: Path) -> None:
    digest = auth_registry.push_entries("private/app", "v1", layers_of("private"))
    ref = f"{auth_registry.host}/private/app:v1"
    anonymous = ImageLibrary(tmp_path / "anon", RegistryOptions())
    with pytest.raises(ImageError, match="authentication required") as caught:
        anonymous.ensure(ref_source(ref))
    assert list(anonymous.blobs.iterdir()) == []
    wrong = _docker_config(tmp_path / "wrong.json", auth_registry.host, "alice", "nope")
    with pytest.raises(ImageError, match="authentication") as caught:
        ImageLibrary(tmp_path / "wrong", RegistryOptions(config_path=wrong)).ensure(ref_source(ref))
    assert "nope" not in str(caught.value)
    good = _docker_config(tmp_path / "good.json", auth_registry.host, "alice", "s3cret-pw")
    store = ImageLibrary(tmp_path / "good", RegistryOptions(config_path=good))
    assert store.ensure(ref_source(ref)).digest == digest
    leaked = [p for p in store.root.rglob("*") if p.is_file() and b"s3cret" in p.read_bytes()]
    assert leaked == []


# -- resume -------------------------------------------------------------------------------


def test_interrupted_pull_resumes_without_refetching_finished_layers(
    registry: Registry, store: ImageLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    layers = [[f.file(f"big/{i}", os.urandom(256 << 10))] for i in range(3)]
    manifest, config, made = f.image_parts(layers, compress=True)
    digest = registry.push_image("app/resume", "v1", manifest, config, [m.blob for m in made])
    victim = oci.descriptor(made[2].media_type, made[2].blob)["digest"]
    real_add_layer = ImageLibrary.add_layer

    def cut_connection(self: ImageLibrary, layer: oci.LayerRef, *args: Any, **kw: Any) -> None:
        if layer.digest == victim:
            raise ConnectionResetError(104, "Connection reset by peer")
        real_add_layer(self, layer, *args, **kw)

    monkeypatch.setattr(ImageLibrary, "add_layer", cut_connection)
    monkeypatch.setattr(pull_module, "_fetch_layers", _sequential(pull_module._fetch_layers))
    ref = f"{registry.host}/app/resume:v1"
    with pytest.raises(ImageError, match="reset by peer"):
        store.ensure(ref_source(ref))
    assert store.identities() == {}
    monkeypatch.setattr(ImageLibrary, "add_layer", real_add_layer)
    recorder = Recorder()
    assert store.ensure(ref_source(ref), recorder).digest == digest
    assert recorder.layers == {victim[:19]}  # the two finished layers were not fetched again


def _sequential(fetch: Any) -> Any:
    """Fetch one layer at a time, so the failure lands after the others finished."""

    def run(store: Any, client: Any, todo: Any, target: Any, report: Any, parallel: int) -> None:
        fetch(store, client, todo, target, report, 1)

    return run


# -- moved tag through apply --------------------------------------------------------------


def test_apply_replaces_a_container_when_its_tag_moved(registry: Registry, tmp_path: Path) -> None:
    require_host()
    layout = tmp_path / "bb"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(layout)],
                   check=True, capture_output=True)  # fmt: skip
    old = registry.push_layout("t/moving-bb", "latest", layout)
    stack = tmp_path / "moved.yaml"
    stack.write_text(f'version: 1\nname: movedtag\nimages:\n  bb: {{ref: "{registry.host}/'
                     't/moving-bb:latest", pull: always}\ncontainers:\n  s:\n    image: bb\n'
                     '    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n')  # fmt: skip
    state = tmp_path / "state"

    def reconcile(*args: str) -> str:
        done = subprocess.run([str(REPO / ".venv/bin/reconcile"), "--state-dir", str(state),
                               *args], capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        reconcile("apply", str(stack))
        new = retag_with_env(registry, layout, "t/moving-bb", "latest")
        plan = reconcile("plan", str(stack))
        assert "pull bb" in plan and "0 to replace" in plan  # plan does not pull
        applied = reconcile("apply", str(stack))
        assert f"image_digest {old[:19]}… → {new[:19]}…" in applied
    finally:
        reconcile("down", "movedtag")
        shutil.rmtree(state, ignore_errors=True)

