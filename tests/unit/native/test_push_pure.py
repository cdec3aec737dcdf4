"""The pure parts of a push: which local image, the token scope, Range and Location
handling, and the CLI verbs with the in-memory driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.drivers.images.refs import local_digest
from reconciler.drivers.native.registry import blobpush
from reconciler.drivers.native.registry.options import RegistryOptions
from reconciler.drivers.native.registry.upload import PushClient
from reconciler.model.errors import NotFound
from tests.fakes import InMemoryDriver

DIGEST = "sha256:" + "a" * 64
IDENTITIES = {"ref:docker.io/library/busybox:1.36": DIGEST, "oci:/x": "sha256:" + "b" * 64}


def test_local_image_by_identity_reference_or_digest() -> None:
    assert local_digest(IDENTITIES, "oci:/x") == "sha256:" + "b" * 64
    assert local_digest(IDENTITIES, "busybox:1.36") == DIGEST  # normalized like a pull
    assert local_digest(IDENTITIES, DIGEST) == DIGEST
    for missing in ("busybox:1.37", "sha256:" + "c" * 64, "Not A Ref"):
        with pytest.raises(NotFound, match="no such image in the store"):
            local_digest(IDENTITIES, missing)


def test_push_token_scope_reads_every_mount_source() -> None:
    client = PushClient("127.0.0.1:5000", "team/app", RegistryOptions(),
                        mount_from=("base/b", "base/a", "base/a"))  # fmt: skip
    assert client.scope == ("repository:team/app:pull,push repository:base/a:pull "
                            "repository:base/b:pull")  # fmt: skip
    assert PushClient("h:1", "x", RegistryOptions()).scope == "repository:x:pull,push"


def test_range_and_location_helpers() -> None:
    assert blobpush._range_end("0-16777215") == 16777215
    assert blobpush._range_end("bytes=0-99") == 99
    assert blobpush._range_end(None) is None and blobpush._range_end("junk") is None
    assert blobpush._with_query("http://h/v2/x/blobs/uploads/u?_state=s", "digest=d") == (
        "http://h/v2/x/blobs/uploads/u?_state=s&digest=d")
    assert blobpush._with_query("http://h/u", "digest=d") == "http://h/u?digest=d"


def test_cli_push_and_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = InMemoryDriver()
    driver.images["ref:src:1"] = DIGEST
    state = ["--state-dir", str(tmp_path / "state")]
    assert main([*state, "images", "tag", "src:1", "h:5000/new:2"], driver=driver) == 0
    assert capsys.readouterr().out == f"h:5000/new:2 {DIGEST}\n"
    assert main([*state, "images", "push", "h:5000/new:2"], driver=driver) == 0
    assert capsys.readouterr().out == f"h:5000/new@{DIGEST}\n"
    assert main([*state, "images", "push", "h:5000/x:1", "--from", "src:1"], driver=driver) == 0
    assert capsys.readouterr().out == f"h:5000/x@{DIGEST}\n"
    assert main([*state, "images", "push", "h:5000/none:1"], driver=driver) == 1
    assert main([*state, "images", "push"], driver=driver) == 1
    assert "name one image reference" in capsys.readouterr().err
    assert main([*state, "images", "tag", "only-one"], driver=driver) == 1
