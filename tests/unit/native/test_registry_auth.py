"""Pure parts of registry pulls: challenges, credentials files, realm rule, token expiry,
manifest classification, the one-pass blob verifier."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from reconciler.drivers.images import oci
from reconciler.drivers.images.blobio import VerifiedCopy
from reconciler.drivers.native.registry import auth
from reconciler.drivers.native.registry.client import RegistryError, insecure_allowed
from reconciler.drivers.native.registry.manifest import _classify


def test_bearer_challenge_is_parsed() -> None:
    found = auth.parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'
    )
    assert found == auth.Challenge("bearer", {"realm": "https://auth.example/token",
                                              "service": "reg", "scope": "repository:a/b:pull"})


def test_credentials_from_docker_config(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"bob:pa:ss").decode()
    config = {"auths": {"https://index.docker.io/v1/": {"auth": encoded},
                        "http://reg.local:5000": {"username": "u", "password": "p"},
                        "broken": {"auth": "%%%"}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    creds = auth.load_credentials(path)
    assert creds["docker.io"] == auth.Credentials("bob", "pa:ss")
    assert creds["reg.local:5000"] == auth.Credentials("u", "p")
    assert "broken" not in creds
    assert "pa:ss" not in repr(creds)


@pytest.mark.parametrize(("realm", "scheme", "host", "allowed"), [
    ("https://reg.example/token", "https", "reg.example", True),
    ("https://reg.example:8443/token", "https", "reg.example:5000", True),
    ("http://reg.example/token", "https", "reg.example", False),  # scheme downgrade
    ("https://evil.example/token", "https", "reg.example", False),
    ("https://auth.docker.io/token", "https", "registry-1.docker.io", True),
    ("https://evil.example/token", "https", "registry-1.docker.io", False),
])  # fmt: skip
def test_realm_credentials_rule(realm: str, scheme: str, host: str, allowed: bool) -> None:
    assert auth.realm_may_receive_credentials(realm, scheme, host) is allowed


def test_token_expires_with_slack() -> None:
    now = [100.0]
    cache = auth.TokenCache(clock=lambda: now[0])
    cache.put("reg", "scope", "tok", 60)
    assert cache.get("reg", "scope") == "tok"
    now[0] += 60 - auth.TOKEN_SLACK
    assert cache.get("reg", "scope") is None


def test_insecure_hosts() -> None:
    assert insecure_allowed("127.0.0.1:5000", ())
    assert insecure_allowed("localhost:5000", ())
    assert insecure_allowed("[::1]:5000", ())
    assert not insecure_allowed("reg.example:5000", ())
    assert insecure_allowed("reg.example:5000", ("reg.example",))


def test_body_longer_than_declared_is_refused_at_the_first_extra_byte() -> None:
    data = b"x" * 100
    layer = oci.LayerRef(oci.sha256_digest(data), 99, oci.MEDIA_LAYER)
    copy = VerifiedCopy(io.BytesIO(data), io.BytesIO(), layer)
    with pytest.raises(oci.FormatError, match="longer than the declared"):
        copy.finish()


def test_manifest_classification() -> None:
    manifest = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    assert _classify(manifest, "d", oci.MEDIA_MANIFEST, "r").media_type == oci.MEDIA_MANIFEST
    with pytest.raises(RegistryError, match="content does not match media type"):
        _classify(manifest, "d", oci.MEDIA_INDEX, "r")
    with pytest.raises(RegistryError, match="schema 1"):
        _classify(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), "d",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws", "r")
