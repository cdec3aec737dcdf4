"""Images in the engine, with the identities the planner compares.

- `ref`: pulled by the engine (credentials from the user's Docker config, as `docker pull`
  finds them); its digest is the engine's repo digest (the registry's manifest digest).
- `oci` / `archive` / `build`: made in the staging store (staging.py), then loaded into
  the engine as a docker-archive tagged `reconcile.local/<key>:<manifest hex>`; their
  digest is the manifest digest, as the native driver reports it.

The engine keeps no manifest digest for a loaded image, so `<state-dir>/docker/images.json`
maps identity -> {digest, engine tag}; an entry counts only while the engine has the tag.
Only images reconcile ensured or pulled (in that file) are ever removed or pruned.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.drivers.base import ImageInfo, Progress
from reconciler.drivers.docker.client import engine_errors, not_found
from reconciler.drivers.docker.engine_api import EngineAPI, path_of
from reconciler.model.desired import ImageSource
from reconciler.model.errors import ImageError, NotFound
from reconciler.model.reference import normalize_reference, parse_reference

if TYPE_CHECKING:  # the store (and the build and OCI code) only for oci/archive/build
    from reconciler.drivers.docker.staging import StagingStore

TAG_REPOSITORY = "reconcile.local"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def _tag_for(image: ImageSource, digest: str) -> str:
    name = _UNSAFE.sub("-", image.key.lower()).strip(".-_") or "image"
    return f"{TAG_REPOSITORY}/{name}:{digest.split(':', 1)[1]}"


def _stream_errors(chunks: Iterator[Any], target: str, progress: Progress | None) -> None:
    """The engine reports a failed pull or load inside its JSON stream, not as a status."""
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            raise ImageError(target, str(chunk["error"]).strip())
        detail = chunk.get("progressDetail") or {}
        if progress is not None and detail.get("current") is not None:
            what = f"{chunk.get('id', target)} {chunk.get('status', '')}".strip()
            progress(what, int(detail["current"]), detail.get("total"))


class EngineImages:
    """`engine`: the JSON client; `sdk`: gives the docker SDK's client, for the streams
    (load, pull, save). What the engine said about an image is kept until the next
    refresh() (each observe): one inspect per image per pass, not per container."""

    def __init__(self, engine: EngineAPI, sdk: Callable[[], Any], root: Path, host: str) -> None:
        self.engine, self._sdk, self.root, self.host = engine, sdk, root, host
        self.index_path = root / "images.json"
        self._staging: StagingStore | None = None
        self._lock = threading.RLock()
        self._inspected: dict[str, dict[str, Any]] = {}
        self._index_cache: tuple[tuple[int, int], dict[str, dict[str, str]]] | None = None

    @property
    def api(self) -> Any:
        return self._sdk()

    @property
    def staging(self) -> StagingStore:
        if self._staging is None:  # made on first oci/archive/build: observe stays free
            from reconciler.drivers.docker.staging import StagingStore

            self._staging = StagingStore(self.root / "staging")
        return self._staging

    def refresh(self) -> None:
        """Forget what the engine said about images (another process may pull or load)."""
        with self._lock:
            self._inspected.clear()

    def _inspect(self, ref: str) -> dict[str, Any]:
        """GET /images/{ref}/json, once per ref until refresh(); raises for a missing one.
        Asked with the lock held: the executor's creates all want their image's config at
        once, and asked each for itself (4 of 10 were seen doing so)."""
        with self._lock:
            cached = self._inspected.get(ref)
            if cached is not None:
                return cached
            info: dict[str, Any] = self.engine.call("GET", f"/images/{path_of(ref)}/json")
            self._inspected[ref] = info
        return info

    # -- the index --

    def _index(self) -> dict[str, dict[str, str]]:
        """The file, read again only when it changed (creates ask it twice each)."""
        try:
            stat = self.index_path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            cached = self._index_cache
            if cached is not None and cached[0] == key:
                return dict(cached[1])
            raw = json.loads(self.index_path.read_bytes())
        except (OSError, ValueError):
            return {}
        index = {str(k): v for k, v in raw.items() if isinstance(v, dict)} if isinstance(
            raw, dict) else {}
        self._index_cache = (key, index)
        return dict(index)

    def _remember(self, identity: str, digest: str, ref: str) -> None:
        index = self._index()
        index[identity] = {"digest": digest, "ref": ref}
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.index_path.with_name(f".images.json.{os.getpid()}")
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.index_path)

    def _forget(self, identities: set[str]) -> None:
        index = {i: e for i, e in self._index().items() if i not in identities}
        tmp = self.index_path.with_name(f".images.json.{os.getpid()}")
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.index_path)

    # -- queries --

    def _engine_images(self) -> list[dict[str, Any]]:
        with engine_errors("images", host=self.host):
            return list(self.engine.call("GET", "/images/json") or [])

    def identities(self) -> dict[str, str]:
        """Identity -> digest of every image present: ours by the index, refs by their tags."""
        images = self._engine_images()
        tags = {t for i in images for t in (i.get("RepoTags") or [])}
        found = {i: e["digest"] for i, e in self._index().items() if e.get("ref") in tags}
        for image in images:
            for tag in image.get("RepoTags") or []:
                if tag.startswith(f"{TAG_REPOSITORY}/") or tag == "<none>:<none>":
                    continue
                digest = _repo_digest(image, tag)
                found.setdefault(f"ref:{_normal(tag)}", digest)
            for pinned in image.get("RepoDigests") or []:
                found.setdefault(f"ref:{_normal(pinned)}", pinned.split("@", 1)[1])
        return found

    def engine_ref(self, image: ImageSource) -> str:
        """What to give the engine's create for an ensured image."""
        if image.kind == "ref":
            return image.ref
        entry = self._index().get(image.identity)
        if entry is None:
            raise ImageError(image.key, "image not present: ensure it first")
        return entry["ref"]

    def digest(self, image: ImageSource) -> str:
        """The digest of an ensured image (the one its containers are labelled with)."""
        if image.kind == "ref":
            return self._digest_of_ref(image.ref, image.key)
        return str(self._index()[image.identity]["digest"])

    def config(self, ref: str) -> dict[str, Any]:
        with engine_errors(ref, image=True, host=self.host):
            return dict(self._inspect(ref).get("Config") or {})

    # -- ensure --

    def ensure(self, image: ImageSource, progress: Progress | None = None) -> str:
        with self._lock:
            if image.kind == "ref":
                return self._ensure_ref(image, progress)
            entry = self._index().get(image.identity)
            if entry is not None and self._has(entry["ref"]):
                return entry["digest"]
            record = self.staging.ensure(image, self._save_ref, progress)
            tag = _tag_for(image, record.digest)
            self._load(record.digest, tag, image.key, progress)
            self._remember(image.identity, record.digest, tag)
            return record.digest

    def _has(self, ref: str) -> bool:
        try:
            self._inspect(ref)
        except Exception as exc:
            if not_found(exc):
                return False
            with engine_errors(ref, image=True, host=self.host):
                raise
        return True

    def _load(self, digest: str, tag: str, target: str, progress: Progress | None) -> None:
        archive = self.staging.tmp_path("load.tar")
        try:
            with archive.open("w+b") as out:
                size = self.staging.write_docker_archive(digest, tag, out)
                out.seek(0)
                if progress is not None:
                    progress(f"load {target}", 0, size)
                with engine_errors(target, image=True, host=self.host):
                    _stream_errors(iter(self.api.load_image(out)), target, None)
                if progress is not None:
                    progress(f"load {target}", size, size)
        finally:
            archive.unlink(missing_ok=True)

    def _ensure_ref(self, image: ImageSource, progress: Progress | None) -> str:
        present = self._has(image.ref)
        if present and image.pull != "always":
            return self._digest_of_ref(image.ref, image.key)
        if not present and image.pull == "never":
            raise ImageError(image.key, f"{image.ref} is not in the engine and pull is never")
        self.pull(image.ref, image.key, progress)
        return self._digest_of_ref(image.ref, image.key)

    def pull(self, ref: str, target: str, progress: Progress | None) -> str:
        with engine_errors(target, image=True, host=self.host):
            chunks = self.api.pull(ref, stream=True, decode=True)
            _stream_errors(iter(chunks), target, progress)
        with self._lock:
            self._inspected.pop(ref, None)  # the tag may have moved
        digest = self._digest_of_ref(ref, target)
        self._remember(f"ref:{_normal(ref)}", digest, ref)
        return digest

    def _digest_of_ref(self, ref: str, target: str) -> str:
        with engine_errors(target, image=True, host=self.host):
            info = self._inspect(ref)
        return _repo_digest(info, ref)

    def _save_ref(self, image: ImageSource, path: Path) -> None:
        self._ensure_ref(image, None)
        with engine_errors(image.key, image=True, host=self.host), path.open("wb") as out:
            for chunk in self.api.get_image(image.ref):
                out.write(chunk)

    # -- operators' commands --

    def infos(self) -> list[ImageInfo]:
        out = []
        for identity, digest in sorted(self.identities().items()):
            ref = self._index().get(identity, {}).get("ref") or identity.removeprefix("ref:")
            with engine_errors(ref, image=True, host=self.host):
                info = self._inspect(ref)
            layers = len((info.get("RootFS") or {}).get("Layers") or [])
            out.append(ImageInfo(digest, identity, int(info.get("Size") or 0), layers))
        return out

    def remove(self, digest: str) -> None:
        ours = {i: e for i, e in self._index().items() if e.get("digest") == digest}
        if not ours:
            raise NotFound(digest, "no image reconcile ensured has this digest")
        for entry in ours.values():
            try:
                self.engine.status("DELETE", f"/images/{path_of(entry['ref'])}")
            except Exception as exc:
                if not not_found(exc):
                    with engine_errors(digest, image=True, host=self.host):
                        raise
        self._forget(set(ours))
        self.refresh()

    def prune(self, keep: frozenset[str]) -> list[str]:
        removed: list[str] = []
        for identity, entry in sorted(self._index().items()):
            if entry["digest"] in keep or identity in keep or entry["digest"] in removed:
                continue
            try:
                self.remove(entry["digest"])
            except ImageError as exc:
                if "conflict" not in str(exc) and "in use" not in str(exc):
                    raise
                continue  # a container (maybe not ours) still uses it: kept
            removed.append(entry["digest"])
        if self._staging is not None or (self.root / "staging").exists():
            self.staging.prune(set(keep))
        return removed


def _normal(text: str) -> str:
    try:
        return normalize_reference(text)
    except ValueError:
        return text


def _repository(name: str) -> str:
    try:
        return parse_reference(name).repository
    except ValueError:
        return name


def _repo_digest(info: dict[str, Any], ref: str) -> str:
    """The repo digest for `ref`'s repository, else the image id (a local-only tag)."""
    try:
        repository = parse_reference(ref).repository
    except ValueError:
        repository = ""
    for pinned in info.get("RepoDigests") or []:
        name, _, digest = pinned.partition("@")
        if _repository(name) == repository:
            return str(digest)
    return str(info.get("Id", ""))

