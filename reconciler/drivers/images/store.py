"""The native driver's content-addressed image store.

Layout under `root` (`<state_dir>/images`, every directory 0700):

    blobs/sha256/<hex>      manifests, configs and layer blobs, verified (digest and size) on write
    layers/<diff-id hex>/   a layer unpacked once, shared read-only by every image using it
    layer-meta/<hex>.json   per unpacked layer: its size and the blob digests proven to produce it
    refs.json               identity -> manifest digest, replaced atomically
    build-hashes.json       the Dockerfile builder's context file hashes by stat (hashcache.py)
    tmp/                    work area; entries of dead processes are removed on start

Every write goes to tmp/ first and is renamed into place only once verified, so a failed
or killed import leaves nothing half-done outside tmp/.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from reconciler.drivers.images import oci
from reconciler.drivers.images.blobio import VerifiedCopy
from reconciler.drivers.images.heap import large_buffers
from reconciler.drivers.images.limits import Budget, UnpackLimits
from reconciler.drivers.images.refs import REFS_FILE, read_identities
from reconciler.model.errors import ImageError, NotFound
from reconciler.model.records import record
from reconciler.support import atomic
from reconciler.support.logsetup import logger
from reconciler.support.pids import process_alive
from reconciler.support.trees import remove_tree

# Types only, and the unpacker imported by the one method that unpacks: a build served from
# the cache opens the store without the model's dataclasses or the decompressors.
if TYPE_CHECKING:
    from reconciler.drivers.base import Progress
    from reconciler.model.desired import ImageSource

# Identities of the Dockerfile build cache (dockerfile/cache.py): images like any other, so
# their layers stay alive and `prune` removes them, but not listed by `images ls`.
CACHE_PREFIX = "build-cache:"


def _source_errors() -> tuple[type[BaseException], ...]:
    """What a damaged source raises. A function: an `except` clause evaluates it only when
    something was raised, so the store imports tarfile only then."""
    import tarfile

    return (oci.FormatError, OSError, ValueError, KeyError, TypeError, EOFError, zlib.error,
            tarfile.TarError)  # fmt: skip


_Digests = list[str]
_Created = list[Path]  # paths an import added, removed again if it fails


@record(frozen=True)
class ImageRecord:
    """An image the store holds whole, ready to run."""

    digest: str  # manifest digest "sha256:<hex>"
    identity: str  # ImageSource.identity it was ensured for
    config: Mapping[str, Any]  # the OCI image config's "config" object (Env, Cmd, ...)
    layers: tuple[Path, ...]  # unpacked layer directories, bottom -> top
    size: int  # bytes of unpacked layers


class ImageStore:
    def __init__(self, root: Path, limits: UnpackLimits | None = None) -> None:
        self.root = root
        self.limits = limits or UnpackLimits()
        self.blobs = root / "blobs" / "sha256"
        self.layers = root / "layers"
        self.layer_meta = root / "layer-meta"
        self.tmp = root / "tmp"
        self.refs_path = root / REFS_FILE
        for directory in (root, root / "blobs", self.blobs, self.layers, self.layer_meta, self.tmp):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Layers hold images' device nodes and setuid files: no other host user may reach them,
        # even in a store made before with a looser mode.
        os.chmod(root, 0o700)
        self._lock = threading.RLock()  # one import or removal at a time in this process
        self._locks_lock = threading.Lock()
        self._layer_locks: dict[str, threading.Lock] = {}  # per diff_id: parallel pulls
        self._clean_tmp()

    # -- queries ------------------------------------------------------------------------

    def identities(self) -> dict[str, str]:
        return read_identities(self.root)

    def get(self, identity: str) -> ImageRecord | None:
        digest = self.identities().get(identity)
        return self._load(identity, digest) if digest else None

    def list(self) -> list[ImageRecord]:
        records = (self._load(i, d) for i, d in sorted(self.identities().items())
                   if not i.startswith(CACHE_PREFIX))
        return [r for r in records if r is not None]

    def read_blob(self, digest: str) -> bytes:
        return (self.blobs / oci.digest_hex(digest)).read_bytes()

    def blob_path(self, digest: str) -> Path:
        return self.blobs / oci.digest_hex(digest)

    # -- getting an image in: the subclasses say how (import, build, pull, load) --

    def ensure_with(self, image: ImageSource, produce: Callable[[], str], *,
                    refresh: bool = False) -> ImageRecord:
        """The record of `image`, calling `produce` (which stores it and returns its
        manifest digest) when the store lacks it, or always with `refresh`."""
        with self._lock:
            existing = self.get(image.identity)
            if existing is not None and not refresh:
                return existing
            try:
                digest = produce()
            except ImageError:
                raise
            except _source_errors() as exc:
                raise ImageError(image.key, _describe(exc)) from exc
            self._set_ref(image.identity, digest)
            record = self._load(image.identity, digest)
            if record is None:
                raise ImageError(image.key, f"image {digest} vanished from the store after import")
            return record

    def import_path(self, path: Path, target: str, progress: Progress | None = None) -> str:
        """Store the OCI layout or archive at `path`; return its manifest digest."""
        if not path.exists():
            raise ImageError(target, f"{path} does not exist")
        reader = oci.BlobReader(path)
        try:
            return self.store_image(oci.read_source(reader), target, progress)
        finally:
            reader.close()

    def store_image(
        self, data: oci.ImageSourceData, target: str, progress: Progress | None = None
    ) -> str:
        """Verify and store every blob and layer of `data`; return the manifest digest.
        On any failure, everything this call added is removed again."""
        with self._lock, self._rollback() as created:
            config = json.loads(data.config)
            diff_ids = _diff_ids(config)
            if len(diff_ids) != len(data.layers):
                raise oci.FormatError(
                    f"config lists {len(diff_ids)} diff_ids, the manifest {len(data.layers)} layers"
                )
            if self._holds(data, diff_ids):  # a rebuild's unchanged result: nothing to add
                return data.manifest_digest
            budget = self.budget(sum(layer.size for layer in data.layers), target)
            for layer, diff_id in zip(data.layers, diff_ids, strict=True):
                self._store_layer(layer, diff_id, data.open_blob, target, progress, created,
                                  budget)  # fmt: skip
            self._write_blob(data.config, data.config_digest, created)
            self._write_blob(data.manifest, data.manifest_digest, created)
            return data.manifest_digest

    def _holds(self, data: oci.ImageSourceData, diff_ids: _Digests) -> bool:
        """Every blob and layer of `data` is in the store already (the blobs checked
        against their digests as a write would check them)."""
        for blob, digest in ((data.config, data.config_digest),
                             (data.manifest, data.manifest_digest)):  # fmt: skip
            oci.check_blob(blob, {"digest": digest, "size": len(blob)})
            if not self.blob_path(digest).is_file():
                return False
        return all(self.has_layer(layer.digest, diff_id)
                   for layer, diff_id in zip(data.layers, diff_ids, strict=True))  # fmt: skip

    @contextmanager
    def _rollback(self) -> Iterator[_Created]:
        created: _Created = []
        try:
            yield created
        except BaseException:
            for path in reversed(created):
                _remove(path)
            raise

    def _write_blob(self, data: bytes, digest: str, created: _Created) -> None:
        oci.check_blob(data, {"digest": digest, "size": len(data)})
        path = self.blobs / oci.digest_hex(digest)
        if path.exists():
            return
        atomic.write_bytes(path, data)
        created.append(path)

    def has_layer(self, blob_digest: str, diff_id: str) -> bool:
        """This exact blob was already proven to unpack to this layer."""
        return (
            (self.layers / oci.digest_hex(diff_id)).is_dir()
            and (self.blobs / oci.digest_hex(blob_digest)).is_file()
            and blob_digest in self._read_meta(diff_id).get("blobs", [])
        )

    def budget(self, compressed: int, target: str) -> Budget:
        """The unpacked-size and free-disk limits of one image of `compressed` bytes."""
        return Budget(self.limits, compressed, self.root, target)

    def add_layer(self, layer: oci.LayerRef, diff_id: str, source: IO[bytes], target: str,
                  progress: Progress | None = None,
                  budget: Budget | None = None) -> None:  # fmt: skip
        """Store one layer from an untrusted stream (a pull); safe to call from several
        threads at once. The layer is kept once verified, even if the image fails later:
        a retried pull does not fetch it again. `budget` is shared by an image's layers."""
        budget = budget or self.budget(layer.size, target)
        try:
            self._store_layer(layer, diff_id, lambda _d: source, target, progress, [], budget)
        except ImageError:
            raise
        except _source_errors() as exc:
            raise ImageError(target, _describe(exc)) from exc

    def add_blob(self, data: bytes, digest: str) -> None:
        """Store a small verified blob (a pulled manifest or config)."""
        self._write_blob(data, digest, [])

    def _layer_lock(self, diff_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._layer_locks.setdefault(diff_id, threading.Lock())

    def _store_layer(
        self,
        layer: oci.LayerRef,
        diff_id: str,
        open_blob: Callable[[str], IO[bytes]],
        target: str,
        progress: Progress | None,
        created: _Created,
        budget: Budget,
    ) -> None:
        blob_path = self.blobs / oci.digest_hex(layer.digest)
        layer_dir = self.layers / oci.digest_hex(diff_id)
        with self._layer_lock(diff_id), large_buffers():
            if self.has_layer(layer.digest, diff_id):
                return
            budget.start(layer.size)
            tmp_blob = self.tmp_path("blob")
            staging = self.tmp_path("layer")
            try:
                with open_blob(layer.digest) as source, tmp_blob.open("wb") as out:
                    copy = VerifiedCopy(source, out, layer, progress)
                    size, actual = self._unpack_verified(copy, layer_dir, staging, budget)
                if actual != diff_id:
                    raise oci.FormatError(
                        f"layer {layer.digest}: uncompressed content is {actual}, "
                        f"but the config's diff_id says {diff_id}"
                    )
                if not blob_path.exists():
                    os.replace(tmp_blob, blob_path)
                    created.append(blob_path)
                meta = self._read_meta(diff_id)
                if staging.exists():
                    os.rename(staging, layer_dir)
                    created.append(layer_dir)
                    meta = {"size": size}
                    created.append(self._meta_path(diff_id))
                meta["blobs"] = sorted({*meta.get("blobs", []), layer.digest})
                atomic.write_json(self._meta_path(diff_id), meta)
            finally:
                _remove(tmp_blob)
                _remove(staging)

    def _unpack_verified(
        self, copy: VerifiedCopy, layer_dir: Path, staging: Path, budget: Budget
    ) -> tuple[int, str]:
        """One pass: unpack into `staging` (or, if the layer is already unpacked, only
        hash) while the blob is copied and hashed. Returns (unpacked bytes, diff_id).
        A blob that does not match its digest is reported as such, whatever the unpacker
        made of its content."""
        from reconciler.drivers.images.unpack import HashingReader, decompressed, unpack_layer

        try:
            if layer_dir.is_dir():
                source = decompressed(copy, budget.target)  # type: ignore[arg-type]
                hashing = HashingReader(source, budget)
                hashing.drain()
                result = -1, hashing.digest
            else:
                result = unpack_layer(copy, staging, budget.target, budget)  # type: ignore[arg-type]
        except Exception as exc:
            if isinstance(exc, (ImageError, *_source_errors())):
                copy.finish()  # raises the digest mismatch if that is the real cause
            raise
        copy.finish()
        return result

    def _meta_path(self, diff_id: str) -> Path:
        return self.layer_meta / f"{oci.digest_hex(diff_id)}.json"

    def tag(self, identity: str, digest: str) -> None:
        """Record `identity` for an image the store holds (`images tag`, a push, a build's
        tag or cache entry)."""
        with self._lock:
            if self._load(identity, digest) is None:
                raise NotFound(digest, "no such image in the store")
            if self.identities().get(identity) != digest:  # a rebuild's tag: no rewrite
                self._set_ref(identity, digest)

    # -- removal ------------------------------------------------------------------------

    def remove(self, digest: str) -> None:
        with self._lock:
            refs = self.identities()
            if digest not in refs.values() and not (self.blobs / oci.digest_hex(digest)).exists():
                raise NotFound(digest, "no such image in the store")
            self._write_refs({i: d for i, d in refs.items() if d != digest})
            self._collect_garbage()

    def prune(self, keep: set[str]) -> _Digests:
        """Forget every image whose identity and digest are both absent from `keep`;
        delete blobs and layers no remaining image uses. Returns the removed digests."""
        with self._lock:
            refs = self.identities()
            kept = {i: d for i, d in refs.items() if i in keep or d in keep}
            removed = sorted(set(refs.values()) - set(kept.values()))
            self._write_refs(kept)
            self._collect_garbage()
            return removed

    def _collect_garbage(self) -> None:
        live_blobs: set[str] = set()
        live_layers: set[str] = set()
        for digest in set(self.identities().values()):
            try:
                manifest = json.loads(self.read_blob(digest))
                config = json.loads(self.read_blob(manifest["config"]["digest"]))
            except (OSError, ValueError, KeyError, TypeError, oci.FormatError):
                continue
            live_blobs.add(oci.digest_hex(digest))
            live_blobs.add(oci.digest_hex(manifest["config"]["digest"]))
            live_blobs.update(oci.digest_hex(layer["digest"]) for layer in manifest["layers"])
            live_layers.update(oci.digest_hex(d) for d in _diff_ids(config))
        for path in self.blobs.iterdir():
            if path.name not in live_blobs:
                _remove(path)
        for path in self.layers.iterdir():
            if path.name not in live_layers:
                _remove(path)
                _remove(self.layer_meta / f"{path.name}.json")

    # -- internals ----------------------------------------------------------------------

    def _load(self, identity: str, digest: str) -> ImageRecord | None:
        try:
            manifest = json.loads(self.read_blob(digest))
            config = json.loads(self.read_blob(manifest["config"]["digest"]))
            layers = tuple(self.layers / oci.digest_hex(d) for d in _diff_ids(config))
        except (OSError, ValueError, KeyError, TypeError, oci.FormatError):
            return None
        if not all(layer.is_dir() for layer in layers):
            return None
        size = sum(self._layer_size(layer) for layer in layers)
        return ImageRecord(digest, identity, dict(config.get("config") or {}), layers, size)

    def _layer_size(self, layer_dir: Path) -> int:
        meta = self._read_meta("sha256:" + layer_dir.name)
        if isinstance(meta.get("size"), int) and meta["size"] >= 0:
            return int(meta["size"])
        return sum(
            (Path(top) / name).lstat().st_size
            for top, _dirs, files in os.walk(layer_dir)
            for name in files
        )

    def _read_meta(self, diff_id: str) -> dict[str, Any]:
        try:
            meta = json.loads(self._meta_path(diff_id).read_bytes())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _set_ref(self, identity: str, digest: str) -> None:
        refs = self.identities()
        refs[identity] = digest
        self._write_refs(refs)

    def _write_refs(self, refs: dict[str, str]) -> None:
        atomic.write_json(self.refs_path, dict(sorted(refs.items())))

    def tmp_path(self, kind: str) -> Path:
        """A fresh name in tmp/, tagged with our pid so a restart can tell stale entries."""
        return self.tmp / f"{os.getpid()}-{os.urandom(16).hex()}-{kind}"

    def _clean_tmp(self) -> None:
        """Remove work files of processes that are gone (a killed import)."""
        for entry in self.tmp.iterdir():
            owner = entry.name.split("-", 1)[0]
            if owner.isdigit() and process_alive(int(owner)):
                continue
            try:
                _remove(entry)
            except OSError as exc:  # never a reason to stop an unrelated command
                logger().warning("image-store-tmp-left", path=str(entry), error=exc.strerror)


def _diff_ids(config: Any) -> list[str]:
    try:
        diff_ids = config["rootfs"]["diff_ids"]
    except (KeyError, TypeError) as exc:
        raise oci.FormatError("image config has no rootfs.diff_ids") from exc
    if not isinstance(diff_ids, list):
        raise oci.FormatError("image config's rootfs.diff_ids is not a list")
    for diff_id in diff_ids:
        oci.digest_hex(diff_id)
    return [str(d) for d in diff_ids]


def _remove(path: Path) -> None:
    """Remove a file or tree (iteratively; read-only folders of a non-root user opened up)."""
    remove_tree(path)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc)
