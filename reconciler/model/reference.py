"""Image references, parsed and normalized the way Docker does.

`nginx` -> `docker.io/library/nginx:latest`; `host:5000/a/b:1` keeps its registry;
`name@sha256:<64 hex>` pins a digest (a pinned reference without a tag gets no tag).
"""

from __future__ import annotations

import re
from functools import lru_cache

from reconciler.model.records import record

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$"
)


@record(frozen=True)
class Reference:
    """An image reference, split into its parts."""

    domain: str
    path: str  # "library/nginx"
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def looks_like_reference(text: str) -> bool:
    """A bare word (no ':', '/' or '@') is taken as an image key, never as a reference."""
    return any(ch in text for ch in ":/@")


def validate_digest(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise ValueError(
            f'invalid digest "{digest}"; expected "sha256:" followed by 64 lowercase hex digits'
        )


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain = DEFAULT_DOMAIN if first in LEGACY_DOMAINS else first
        return domain, rest
    return DEFAULT_DOMAIN, name


def _split_tag(name: str) -> tuple[str, str]:
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, ""


@lru_cache(maxsize=4096)  # pure, and the checks and normalize parse each image's reference
def parse_reference(text: str) -> Reference:
    """Parse and normalize; raises ValueError naming what is wrong."""
    if not text or text != text.strip():
        raise ValueError(f'invalid image reference "{text}"')
    name, _, digest = text.partition("@")
    if digest:
        validate_digest(digest)
    name, tag = _split_tag(name)
    if tag and not _TAG.match(tag):
        raise ValueError(f'invalid tag "{tag}" in image reference "{text}"')
    domain, path = _split_domain(name)
    if not _DOMAIN.match(domain):
        raise ValueError(f'invalid registry "{domain}" in image reference "{text}"')
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            hint = " (repository names must be lowercase)" if component.lower() != component else ""
            raise ValueError(f'invalid repository name "{path}" in "{text}"{hint}')
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def normalize_reference(text: str) -> str:
    return str(parse_reference(text))
