"""Image references are normalized like Docker does."""

from __future__ import annotations

import pytest

from reconciler.model.reference import looks_like_reference, normalize_reference, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25"),
        ("acme/web", "docker.io/acme/web:latest"),
        ("index.docker.io/library/redis:7", "docker.io/library/redis:7"),
        ("host:5000/a/b:1", "host:5000/a/b:1"),
        ("localhost/app", "localhost/app:latest"),
        ("127.0.0.1:5000/app:dev", "127.0.0.1:5000/app:dev"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}"),
        ("registry.local/a__b/c-d.e:v1_x", "registry.local/a__b/c-d.e:v1_x"),
    ],
)
def test_normalize(given: str, expected: str) -> None:
    assert normalize_reference(given) == expected


def test_parts() -> None:
    ref = parse_reference(f"host:5000/team/app:1@{DIGEST}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("host:5000", "team/app", "1", DIGEST)
    assert ref.repository == "host:5000/team/app"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("busybox@sha256:abc", "invalid digest"),
        (f"busybox@sha256:{'A' * 64}", "64 lowercase hex"),
        ("busybox@md5:" + "a" * 32, "invalid digest"),
        ("Busybox", "must be lowercase"),
        ("busybox:bad tag", "invalid tag"),
        ("a//b", "invalid repository name"),
        ("", "invalid image reference"),
        (" nginx", "invalid image reference"),
        ("reg_istry:5000/a:1", "invalid registry"),
    ],
)
def test_invalid(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reference(given)


def test_bare_words_are_not_references() -> None:
    assert not looks_like_reference("busybox")
    assert looks_like_reference("busybox:1")
    assert looks_like_reference("acme/web")
    assert looks_like_reference(f"busybox@{DIGEST}")
