"""A registry cannot exhaust memory or hang a pull (issue 11): every body that is not a
layer is capped, and a pull has a deadline, a minimum rate and a stall timeout. The
scripted server (tests/hostile_registry.py) drips, stalls and sends oversized bodies;
each pull fails within seconds (small limits through RegistryOptions) with the exact
error, and the store is as it was: tmp/ empty, no partial layer, refs unchanged."""

from __future__ import annotations

import itertools
import json
import re
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.native.library import ImageLibrary
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f
from tests.hostile_registry import Drip, Hostile

pytestmark = [pytest.mark.integration, pytest.mark.registry]

GIB3 = 3 << 30
MIB = 1 << 20
FAST = RegistryOptions(pull_timeout=20, stall_timeout=10, min_rate_bytes=1024,
                       min_rate_window=1.0)  # fmt: skip


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile().start()
    yield server
    server.stop()


def _endless(piece: bytes = b"\0" * MIB, count: int = GIB3 // MIB) -> Iterator[bytes]:
    return itertools.repeat(piece, count)


def sent(hostile: Hostile, path: str) -> int:
    return sum(n for p, n in hostile.sent.items() if p.split("?")[0] == path)


def make_store(tmp_path: Path, options: RegistryOptions) -> ImageLibrary:
    """A store already holding one image, so "unchanged" means something."""
    store = ImageLibrary(tmp_path / "images", options)
    layout = tmp_path / "good"
    f.write_oci_layout(layout, [[f.file("good", b"kept")]])
    store.ensure(ImageSource(key="good", kind="oci", identity="oci:good", path=str(layout)))
    return store


def snapshot(store: ImageLibrary) -> tuple[object, ...]:
    areas = (store.blobs, store.layers, store.layer_meta, store.tmp)
    return (store.identities(), *(sorted(p.name for p in a.iterdir()) for a in areas))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = make_store(tmp_path, FAST)
    yield images
    shutil.rmtree(images.root, ignore_errors=True)


def failing_pull(store: ImageLibrary, ref: str) -> tuple[str, float]:
    """(error message, seconds) of a pull that must fail and leave the store as it was."""
    before = snapshot(store)
    image = ImageSource(key="img", kind="ref", identity=f"ref:{ref}", ref=ref)
    started = time.monotonic()
    with pytest.raises(ImageError) as caught:
        store.ensure(image)
    seconds = time.monotonic() - started
    assert snapshot(store) == before
    assert list(store.tmp.iterdir()) == []
    return str(caught.value), seconds


def _image(hostile: Hostile, data: bytes = b"layer" * 2000) -> tuple[str, bytes]:
    """Serve a one-layer image under m/x:v1; returns (layer path, layer blob)."""
    manifest, config, made = f.image_parts([[f.file("x", data)]], compress=True)
    hostile.serve_image("m/x", "v1", manifest, oci.MEDIA_MANIFEST, [config, made[0].blob])
    return f"/v2/m/x/blobs/{oci.sha256_digest(made[0].blob)}", made[0].blob


# -- bodies that are not layers are capped ---------------------------------------------


def test_oversized_v2_answer_is_refused_at_its_header(hostile: Hostile,
                                                      store: ImageLibrary) -> None:  # fmt: skip
    hostile.routes["/v2/"] = (200, {}, Drip(_endless(), length=GIB3))
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert message == (f"img: registry 127.0.0.1:{hostile.port} announced {GIB3} bytes for "
                       "the /v2/ answer, more than the 64 KiB allowed; refused")  # fmt: skip
    assert seconds < 3
    assert sent(hostile, "/v2/") < 32 * MIB


@pytest.mark.parametrize("case", ["v2", "challenge", "redirect", "error", "manifest", "token"])
def test_oversized_bodies_without_length_stop_at_the_cap(hostile: Hostile, store: ImageLibrary,
                                                         case: str) -> None:  # fmt: skip
    """No Content-Length: the body is streamed, counted and refused past its cap; the
    server could only push the cap plus what the socket buffers hold."""
    layer_path, _blob = _image(hostile)
    host = f"127.0.0.1:{hostile.port}"
    huge = Drip(_endless())
    paths = {"v2": "/v2/", "challenge": "/v2/m/x/manifests/v1", "redirect": layer_path,
             "error": layer_path, "manifest": "/v2/m/x/manifests/v1", "token": "/token"}
    answers = {
        "v2": (200, {}, huge),
        "challenge": (401, {"WWW-Authenticate": 'Basic realm="x"'}, huge),
        "redirect": (307, {"Location": "/elsewhere"}, huge),
        "error": (500, {}, huge),
        "manifest": (200, {"Content-Type": oci.MEDIA_MANIFEST}, huge),
        "token": (200, {}, huge),
    }
    if case == "token":
        hostile.routes["/v2/"] = (401, {"WWW-Authenticate": f'Bearer realm="http://{host}/token"'},
                                  b"")  # fmt: skip
    hostile.routes[paths[case]] = answers[case]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message, seconds = failing_pull(store, f"{host}/m/x:v1")
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    what = {"v2": "the /v2/ answer", "challenge": "an authentication challenge",
            "redirect": f"a redirect for layer {layer_path.rsplit('/', 1)[1]}",
            "error": "an error answer", "manifest": "manifest v1",
            "token": f"a token from {host}"}[case]  # fmt: skip
    cap = "4 MiB" if case == "manifest" else "64 KiB"
    expected = f"registry {host} sent more than {cap} for {what}; refused"
    if case == "error":
        expected = f"{host}{layer_path}: HTTP 500 ({expected})"
    assert message == f"img: {expected}"
    assert seconds < 5
    assert sent(hostile, paths[case]) < 32 * MIB  # of the 3 GiB the server had to send
    assert growth_kib < 64 * 1024


# -- slow registries -------------------------------------------------------------------


def test_dripping_layer_is_stopped_by_the_minimum_rate(hostile: Hostile,
                                                      store: ImageLibrary) -> None:  # fmt: skip
    layer_path, blob = _image(hostile)
    hostile.routes[layer_path] = (200, {}, Drip((bytes([b]) for b in blob), delay=0.2,
                                                length=len(blob)))  # fmt: skip
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    digest = layer_path.rsplit("/", 1)[1]
    assert re.fullmatch(rf"img: registry 127\.0\.0\.1:{hostile.port} sent \d bytes in 1 s for "
                        rf"layer {digest}: below the minimum of 1 KiB per 1 s; stopped",
                        message), message  # fmt: skip
    assert seconds < 3


def test_layer_that_stalls_hits_the_socket_timeout(hostile: Hostile, tmp_path: Path) -> None:
    store = make_store(tmp_path, RegistryOptions(stall_timeout=1.0, min_rate_window=60))
    layer_path, blob = _image(hostile)
    hostile.routes[layer_path] = (200, {}, Drip(_stalling(blob[:10]), length=len(blob)))
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    digest = layer_path.rsplit("/", 1)[1]
    assert message == (f"img: registry 127.0.0.1:{hostile.port} sent nothing for 1 s while "
                       f"sending layer {digest} (after 10 bytes); stalled")  # fmt: skip
    assert seconds < 4


def _stalling(first: bytes) -> Iterator[bytes]:
    yield first
    time.sleep(8)
    yield b""


def test_answer_that_never_comes_hits_the_socket_timeout(hostile: Hostile,
                                                         tmp_path: Path) -> None:  # fmt: skip
    store = make_store(tmp_path, RegistryOptions(stall_timeout=1.0, min_rate_window=60))
    _image(hostile)
    hostile.routes["/v2/m/x/manifests/v1"] = (200, {}, Drip([b"{}"], wait=8, length=2))
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert message == (f"img: registry 127.0.0.1:{hostile.port} did not answer within 1 s "
                       "for manifest v1; stalled")  # fmt: skip
    assert seconds < 4


def test_headers_dripping_count_as_nothing_received(hostile: Hostile,
                                                    store: ImageLibrary) -> None:  # fmt: skip
    _image(hostile)
    hostile.routes["/v2/m/x/manifests/v1"] = (200, {}, Drip([b"{}"], wait=8, length=2))
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert message == (f"img: registry 127.0.0.1:{hostile.port} sent 0 bytes in 1 s for "
                       "manifest v1: below the minimum of 1 KiB per 1 s; stopped")  # fmt: skip
    assert seconds < 3


def test_pull_deadline_stops_a_steady_but_endless_layer(hostile: Hostile,
                                                        tmp_path: Path) -> None:  # fmt: skip
    options = RegistryOptions(pull_timeout=2.0, min_rate_bytes=1024, min_rate_window=1.0)
    store = make_store(tmp_path, options)
    manifest, config, made = f.image_parts([[f.file("x", b"x")]], compress=True)
    doc = json.loads(manifest)
    doc["layers"][0]["size"] = GIB3  # a 3 GiB layer: 8 KiB every 0.1 s passes the rate rule
    hostile.serve_image("m/x", "v1", oci.canonical_json(doc), oci.MEDIA_MANIFEST, [config])
    digest = oci.sha256_digest(made[0].blob)
    hostile.routes[f"/v2/m/x/blobs/{digest}"] = (200, {}, Drip(_endless(b"\0" * 8192),
                                                               delay=0.1, length=GIB3))  # fmt: skip
    message, seconds = failing_pull(store, f"127.0.0.1:{hostile.port}/m/x:v1")
    assert message == (f"img: registry 127.0.0.1:{hostile.port}: pull of m/x did not finish "
                       "within 2 s, the pull deadline (while fetching layer "
                       f"{digest}); stopped")  # fmt: skip
    assert 2 <= seconds < 4


def test_limits_leave_ordinary_pulls_alone(hostile: Hostile, store: ImageLibrary) -> None:
    """A layer that arrives in bursts above the rate still succeeds with tight limits."""
    layer_path, blob = _image(hostile, data=bytes(range(256)) * 2000)
    pieces = [blob[i:i + 4096] for i in range(0, len(blob), 4096)]
    hostile.routes[layer_path] = (200, {}, Drip(pieces, delay=0.01, length=len(blob)))
    ref = f"127.0.0.1:{hostile.port}/m/x:v1"
    image = ImageSource(key="img", kind="ref", identity=f"ref:{ref}", ref=ref)
    record = store.ensure(image)
    assert (record.layers[0] / "x").read_bytes() == bytes(range(256)) * 2000
    assert json.loads(store.read_blob(record.digest))["layers"][0]["size"] == len(blob)
    assert list(store.tmp.iterdir()) == []
