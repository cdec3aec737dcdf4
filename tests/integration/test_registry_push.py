"""`images push` to a real docker-registry on 127.0.0.1: mounts, chunks, resume, auth.

What the registry saw is read from its access log (`Registry.requests()`), so "mounted,
not uploaded" and "more than one PATCH" are the registry's word, not ours."""

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
from reconciler.drivers.native.registry import blobpush, upload
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError, NotFound
from tests import image_factory as f
from tests.integration.native_helpers import NativeHarness, require_host
from tests.registry_helpers import Registry, started_registry, stop_registry
from tests.token_server import TokenServer

pytestmark = [pytest.mark.integration, pytest.mark.registry]
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    server = started_registry(access_log=True)
    yield server
    stop_registry(server)


@pytest.fixture(scope="module")
def busybox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = tmp_path_factory.mktemp("busybox-layout")
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(layout)],
                   check=True, capture_output=True)  # fmt: skip
    return layout


def oci_source(layout: Path, key: str = "img") -> ImageSource:
    return ImageSource(key=key, kind="oci", identity=f"oci:{layout}", path=str(layout))


def ref_source(ref: str) -> ImageSource:
    return ImageSource(key="img", kind="ref", identity=f"ref:{ref}", ref=ref)


def docker_config(path: Path, host: str, user: str, password: str) -> Path:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return path


def reconcile(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / ".venv/bin/reconcile"), "--state-dir", str(state), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip


def since(registry: Registry, mark: int) -> list[tuple[str, str, int]]:
    return registry.requests()[mark:]


def run_pulled(ref: str, state: Path, text: str) -> str:
    """Pull `ref` into a clean state dir and run it through the native driver; its digest."""
    require_host()
    driver = NativeDriver(state, registry=RegistryOptions())
    image = ref_source(ref)
    digest = driver.ensure_image(image)
    harness = NativeHarness(driver, image)
    try:
        spec = harness.run("hello", ["sh", "-c", f"echo {text}"])
        assert harness.exit_record(spec.name)["exit_code"] == 0
        assert [line.text for line in driver.logs(spec.name)] == [text]
    finally:
        for name in harness.names:
            driver.remove(name)
        assert harness.leaks() == []
        shutil.rmtree(driver.layout.root, ignore_errors=True)
    return digest


# -- push under a new name, mounts, pull back and run ---------------------------------------


def test_pushed_image_mounts_known_layers_and_runs_after_a_pull_back(
    registry: Registry, busybox: Path, tmp_path: Path
) -> None:
    pulled = registry.push_layout("tools/busybox", "1.36", busybox)
    source = f"{registry.host}/tools/busybox:1.36"
    state = tmp_path / "state"
    assert reconcile(state, "images", "pull", source).returncode == 0
    mark = len(registry.requests())
    done = reconcile(state, "images", "push", f"{registry.host}/team/bb:v2", "--from", source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{registry.host}/team/bb@{pulled}"  # same digest as pulled
    seen = since(registry, mark)
    layer = json.loads((busybox / oci.blob_name(pulled)).read_bytes())["layers"][0]["digest"]
    assert ("POST", f"/v2/team/bb/blobs/uploads/?mount={layer}&from=tools/busybox", 201) in seen
    assert not [r for r in seen if r[0] in ("PATCH", "PUT") and "/blobs/uploads/" in r[1]]
    assert ("PUT", "/v2/team/bb/manifests/v2", 201) in seen
    assert registry.uploads_left("team/bb") == []
    # pushed again: every blob exists, only the manifest is put
    mark = len(registry.requests())
    assert reconcile(state, "images", "push", f"{registry.host}/team/bb:v2").returncode == 0
    assert [r[0] for r in since(registry, mark) if r[1] != "/v2/"] == ["HEAD", "HEAD", "PUT"]
    assert not list((state / "images" / "tmp").iterdir())
    run_pulled(f"{registry.host}/team/bb:v2", tmp_path / "clean", "pushed-and-pulled")


def test_tag_then_push_and_unknown_images(registry: Registry, busybox: Path,
                                          tmp_path: Path) -> None:  # fmt: skip
    driver = NativeDriver(tmp_path / "state", registry=RegistryOptions())
    digest = driver.ensure_image(oci_source(busybox))
    target = f"{registry.host}/tagged/bb:1"
    assert driver.tag_image(f"oci:{busybox}", target) == digest
    assert driver.push_image(target) == f"{registry.host}/tagged/bb@{digest}"
    assert driver.push_image(f"{registry.host}/bydigest/bb:1", digest).endswith(digest)
    with pytest.raises(NotFound, match="no such image in the store"):
        driver.push_image(f"{registry.host}/nothing/here:1")
    with pytest.raises(NotFound, match="no such image in the store"):
        driver.tag_image("missing/image:1", f"{registry.host}/x/y:1")
    done = reconcile(tmp_path / "state", "images", "push", f"{registry.host}/none:1")
    assert done.returncode == 1 and "no such image in the store" in done.stderr


def test_unreachable_registry(busybox: Path, tmp_path: Path) -> None:
    from tests.netutil import free_port

    driver = NativeDriver(tmp_path / "state", registry=RegistryOptions())
    driver.ensure_image(oci_source(busybox))
    with pytest.raises(ImageError, match=r"cannot reach registry 127\.0\.0\.1:\d+"):
        driver.push_image(f"127.0.0.1:{free_port()}/a/b:1", f"oci:{busybox}")


# -- chunks, digests, interruptions ----------------------------------------------------------


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """~40 MiB of random bytes in one uncompressed layer: three PATCH chunks."""
    layout = tmp_path_factory.mktemp("big-layout")
    digest = f.write_oci_layout(layout, [[f.file("big/random", os.urandom(40 << 20))],
                                         [f.file("small/file", b"small")]])  # fmt: skip
    return layout, digest


def _library(tmp_path: Path, layout: Path) -> ImageLibrary:
    store = ImageLibrary(tmp_path / "images", RegistryOptions())
    store.ensure(oci_source(layout))
    return store


def _push(store: ImageLibrary, ref: str, layout: Path) -> str:
    from reconciler.drivers.native.registry.push import push_image

    return push_image(store, ref, f"oci:{layout}", store.registry)


def test_large_layer_goes_in_chunks_and_the_digest_is_stable(
    registry: Registry, big_image: tuple[Path, str], tmp_path: Path
) -> None:
    layout, digest = big_image
    store = _library(tmp_path, layout)
    mark = len(registry.requests())
    assert _push(store, f"{registry.host}/big/one:1", layout) == f"{registry.host}/big/one@{digest}"
    patches = [r for r in since(registry, mark) if r[0] == "PATCH"]
    assert len(patches) == 3 and all(status == 202 for _m, _p, status in patches)
    # the same image under another repository of another registry state: same digest
    store.tag(f"ref:{registry.host}/big/one:1", digest)
    assert _push(store, f"{registry.host}/big/two:1", layout).endswith(digest)
    served = registry.requests()
    assert ("PUT", "/v2/big/two/manifests/1", 201) in served
    assert registry.uploads_left("big") == []
    pulled = ImageLibrary(tmp_path / "back", RegistryOptions())
    record = pulled.ensure(ref_source(f"{registry.host}/big/two:1"))
    assert record.digest == digest
    assert (record.layers[1] / "small/file").read_bytes() == b"small"


def _upload_id(path: str) -> str:
    return path.split("/blobs/uploads/", 1)[1].split("?", 1)[0]


def _posts(seen: list[tuple[str, str, int]]) -> int:
    return len([r for r in seen if r[0] == "POST" and "/blobs/uploads/" in r[1]])


def test_connection_lost_before_a_chunk_resumes_the_upload(
    registry: Registry, big_image: tuple[Path, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The registry holds exactly the first chunk: asked, it says so, and the upload goes
    on from there (no new upload session)."""
    layout, digest = big_image
    store = _library(tmp_path, layout)
    real = upload._send_body
    resets: list[int] = []

    def reset_before_the_second_chunk(conn: Any, transfer: Any, body: Any, on_sent: Any) -> None:
        if isinstance(body, upload.FileRegion) and body.offset == blobpush.CHUNK and len(
                resets) < 2:  # the kept-alive socket is tried again once, then a fresh one
            resets.append(body.offset)
            raise ConnectionResetError(104, "Connection reset by peer")
        real(conn, transfer, body, on_sent)

    monkeypatch.setattr(upload, "_send_body", reset_before_the_second_chunk)
    monkeypatch.setattr(blobpush, "BACKOFF", 0.05)
    mark = len(registry.requests())
    assert _push(store, f"{registry.host}/resumed/img:1", layout).endswith(digest)
    seen = since(registry, mark)
    assert len(resets) == 2
    assert [r[2] for r in seen if r[0] == "GET" and "/blobs/uploads/" in r[1]] == [204]
    assert _posts(seen) == 3  # the two layers and the config: the big one was not restarted
    assert registry.uploads_left("resumed/img") == []
    assert not list(store.tmp.iterdir())
    record = ImageLibrary(tmp_path / "back", RegistryOptions()).ensure(
        ref_source(f"{registry.host}/resumed/img:1"))
    assert record.digest == digest


def test_connection_lost_inside_a_chunk_restarts_the_upload_cleanly(
    registry: Registry, big_image: tuple[Path, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Half a chunk reached the registry: docker-registry then drops the upload (its size
    no longer matches the upload's state), so it is started again."""
    layout, digest = big_image
    store = _library(tmp_path, layout)
    real = upload._send_body
    cut: list[int] = []

    def reset_in_the_second_chunk(conn: Any, transfer: Any, body: Any, on_sent: Any) -> None:
        if isinstance(body, upload.FileRegion) and body.offset == blobpush.CHUNK and not cut:
            cut.append(body.length // 2)
            real(conn, transfer, upload.FileRegion(body.path, body.offset, cut[0]), on_sent)
            raise ConnectionResetError(104, "Connection reset by peer")
        real(conn, transfer, body, on_sent)

    monkeypatch.setattr(upload, "_send_body", reset_in_the_second_chunk)
    monkeypatch.setattr(blobpush, "BACKOFF", 0.05)
    mark = len(registry.requests())
    assert _push(store, f"{registry.host}/restarted/img:1", layout).endswith(digest)
    seen = since(registry, mark)
    assert cut
    assert [r[2] for r in seen if r[0] == "GET" and "/blobs/uploads/" in r[1]] == [404]
    assert _posts(seen) == 4  # the big layer's upload was opened twice
    # We asked it to drop the broken session; docker-registry refuses every request on a
    # session whose size disagrees with its state (so also that DELETE), and keeps it for
    # its own upload purging. The only session left is that one.
    deleted = [p for m, p, _s in seen if m == "DELETE"]
    assert len(deleted) == 1
    assert [p.name for p in registry.uploads_left("restarted/img")] == [_upload_id(deleted[0])]
    assert not list(store.tmp.iterdir())
    record = ImageLibrary(tmp_path / "back", RegistryOptions()).ensure(
        ref_source(f"{registry.host}/restarted/img:1"))
    assert record.digest == digest


def test_lost_upload_is_cancelled_before_it_is_restarted(
    registry: Registry, big_image: tuple[Path, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    layout, digest = big_image
    store = _library(tmp_path, layout)
    real = upload._send_body
    failed: list[bool] = []

    def fail_once(conn: Any, transfer: Any, body: Any, on_sent: Any) -> None:
        if isinstance(body, upload.FileRegion) and body.offset == blobpush.CHUNK and len(
                failed) < 2:  # the kept-alive socket, then a fresh one
            failed.append(True)
            raise ConnectionResetError(104, "Connection reset by peer")
        real(conn, transfer, body, on_sent)

    def forgotten(client: Any, blob: Any, location: str) -> tuple[str, int]:
        raise upload.Transient("upload lost")

    monkeypatch.setattr(upload, "_send_body", fail_once)
    monkeypatch.setattr(blobpush, "upload_status", forgotten)
    monkeypatch.setattr(blobpush, "BACKOFF", 0.2)
    mark = len(registry.requests())
    assert _push(store, f"{registry.host}/cancelled/img:1", layout).endswith(digest)
    seen = since(registry, mark)
    assert [r[2] for r in seen if r[0] == "DELETE"] == [204]  # the abandoned session
    assert _posts(seen) == 4
    # docker-registry answered the DELETE with 204 and removed the upload's data; a broken
    # request's handler may still write an empty hash state file there afterwards.
    left = registry.uploads_left("cancelled/img")
    assert all(not (p / "data").exists() for p in left), left


# -- credentials ---------------------------------------------------------------------------


def test_push_with_basic_auth_and_denied_pushes(busybox: Path, tmp_path: Path) -> None:
    server = started_registry(user="alice", password=PASSWORD, access_log=True)
    try:
        server.push_layout("base/bb", "1", busybox)
        good = docker_config(tmp_path / "good.json", server.host, "alice", PASSWORD)
        state = tmp_path / "state"
        source = f"{server.host}/base/bb:1"
        assert reconcile(state, "--registry-config", str(good), "images", "pull",
                         source).returncode == 0  # fmt: skip
        for config in (None, docker_config(tmp_path / "bad.json", server.host, "alice", "nope")):
            flags = ["--registry-config", str(config)] if config else []
            done = reconcile(state, *flags, "images", "push", f"{server.host}/mine/bb:1",
                             "--from", source)  # fmt: skip
            assert done.returncode == 1
            assert (f"registry {server.host} denied the push to {server.host}/mine/bb: "
                    "authentication required or refused") in done.stderr
            assert "nope" not in done.stderr and PASSWORD not in done.stderr
        done = reconcile(state, "--registry-config", str(good), "images", "push",
                         f"{server.host}/mine/bb:1", "--from", source)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert ("POST", "/v2/mine/bb/blobs/uploads/?mount=", 201) in [
            (m, p.split("sha256")[0], s) for m, p, s in server.requests()]
        leaked = [p for p in state.rglob("*")
                  if p.is_file() and PASSWORD.encode() in p.read_bytes()]
        assert leaked == []
    finally:
        stop_registry(server)


def test_push_with_bearer_tokens_from_a_token_server(busybox: Path, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path / "token", "bob", PASSWORD, prefix="bob/")
    tokens.start()
    server = started_registry(access_log=True, extra_config=tokens.registry_config())
    try:
        store = ImageLibrary(tmp_path / "images", RegistryOptions(
            config_path=docker_config(tmp_path / "c.json", server.host, "bob", PASSWORD)))
        digest = store.ensure(oci_source(busybox)).digest
        first = _push(store, f"{server.host}/bob/app:1", busybox)
        assert first == f"{server.host}/bob/app@{digest}"
        assert ["repository:bob/app:pull,push"] in tokens.scopes_asked
        # a second repository: its token also reads the one it mounts from
        assert _push(store, f"{server.host}/bob/copy:1", busybox).endswith(digest)
        assert ["repository:bob/copy:pull,push", "repository:bob/app:pull"] in tokens.scopes_asked
        assert any(m == "POST" and "mount=" in p and s == 201 for m, p, s in server.requests())
        with pytest.raises(ImageError) as caught:  # outside bob/: the token grants pull only
            _push(store, f"{server.host}/alice/app:1", busybox)
        assert f"denied the push to {server.host}/alice/app" in str(caught.value)
        assert PASSWORD not in str(caught.value)
        anonymous = ImageLibrary(tmp_path / "anon", RegistryOptions())
        with pytest.raises(ImageError, match="denied the push"):
            _push_from(anonymous, busybox, f"{server.host}/bob/anon:1")
        assert anonymous.ensure(ref_source(f"{server.host}/bob/app:1")).digest == digest
    finally:
        stop_registry(server)
        tokens.stop()


def _push_from(store: ImageLibrary, layout: Path, ref: str) -> str:
    store.ensure(oci_source(layout))
    return _push(store, ref, layout)


# -- the docker driver ---------------------------------------------------------------------


def test_docker_driver_pushes_through_the_engine(registry: Registry, busybox: Path,
                                                 tmp_path: Path) -> None:  # fmt: skip
    from reconciler.drivers.docker.driver import DockerDriver
    from tests.docker_engine import docker_engine, require_dockerd

    require_dockerd()
    with docker_engine() as engine:
        driver = DockerDriver(tmp_path / "docker-state", host=engine.host)
        image = oci_source(busybox)
        driver.ensure_image(image)
        local = driver.images.engine_ref(image)
        mark = len(registry.requests())
        pushed = driver.push_image(f"{registry.host}/dock/bb:1", local)
        assert pushed.startswith(f"{registry.host}/dock/bb@sha256:")
        assert ("PUT", "/v2/dock/bb/manifests/1", 201) in since(registry, mark)
        with pytest.raises(NotFound):
            driver.push_image(f"{registry.host}/dock/none:1", "nothing/here:1")
    digest = run_pulled(f"{registry.host}/dock/bb:1", tmp_path / "clean", "pushed-by-docker")
    assert pushed.endswith(digest)
