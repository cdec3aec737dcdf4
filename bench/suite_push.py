"""Push of a ~100 MB image to a local docker-registry: `reconcile images push` against
`docker push` (a private dockerd) and `skopeo copy` (from an OCI layout), same run,
interleaved. Each push goes to a fresh repository of an emptied registry (its storage is
deleted and it is restarted on the same port before every push), so no existence check
or mount can skip a layer. The image: busybox + N layers of incompressible data, gzip.

    .venv/bin/python bench/suite_push.py [--layers 4] [--mib 25] [--repeat 5] [--out FILE]

Docker stores layers uncompressed and compresses them again to push; reconcile and skopeo
send the stored compressed blobs. That is each tool's real cost, so it is what is timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.bench_pull import Dockerd  # noqa: E402
from reconciler.drivers.images import oci  # noqa: E402
from tests import image_factory as f  # noqa: E402
from tests.registry_helpers import Registry, started_registry, stop_registry  # noqa: E402

TOOLS = {"reconcile": "reconcile-images-push", "docker": "docker-push",
         "skopeo": "skopeo-copy (oci layout)"}  # fmt: skip


def build_layout(dest: Path, layers: int, mib: int) -> int:
    """busybox + `layers` random gzip layers as an OCI layout; returns compressed bytes."""
    busybox = dest.with_name("busybox")
    subprocess.run([sys.executable, str(ROOT / "scripts/make-busybox-image.py"), str(busybox)],
                   check=True, capture_output=True)  # fmt: skip
    index = json.loads((busybox / "index.json").read_bytes())
    manifest = json.loads((busybox / oci.blob_name(index["manifests"][0]["digest"])).read_bytes())
    base = (busybox / oci.blob_name(manifest["layers"][0]["digest"])).read_bytes()
    made = [f.Layer(gzip.compress(base, 1, mtime=0), oci.sha256_digest(base), oci.MEDIA_LAYER_GZIP)]
    for i in range(layers):
        tar = f.layer_tar([f.file(f"data/blob{i}", os.urandom(mib << 20))])
        made.append(f.Layer(gzip.compress(tar, 1, mtime=0), oci.sha256_digest(tar),
                            oci.MEDIA_LAYER_GZIP))  # fmt: skip
    config = f.make_config(made)
    manifest_bytes = oci.build_manifest(oci.descriptor(oci.MEDIA_CONFIG, config),
                                        [oci.descriptor(m.media_type, m.blob) for m in made])
    oci.write_layout(dest, manifest_bytes, [config, *(m.blob for m in made)])
    shutil.rmtree(busybox)
    return sum(len(m.blob) for m in made)


def _timed(cmd: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - began


class Peers:
    """The three pushers, each with the image already in its own store."""

    def __init__(self, registry: Registry, layout: Path, work: Path, docker: str | None) -> None:
        self.registry, self.layout, self.work = registry, layout, work
        self.state = work / "reconcile-state"
        self.docker = docker
        self.count = 0
        self.source = f"{registry.host}/bench/source:v1"

    def seed(self) -> None:
        """The source image into the registry once: reconcile and docker pull it from there."""
        index = json.loads((self.layout / "index.json").read_bytes())
        self.registry.push_layout("bench/source", "v1", self.layout)
        assert index["manifests"]
        subprocess.run([common.RECONCILE, "--state-dir", str(self.state), "images", "pull",
                        self.source], check=True, capture_output=True)  # fmt: skip
        if self.docker:
            subprocess.run([common.DOCKER, "-H", self.docker, "pull", "-q", self.source],
                           check=True, capture_output=True)  # fmt: skip

    def fresh(self, tool: str) -> str:
        """An emptied registry (same port) and a repository never used."""
        self.registry.stop()
        self.registry.reset_storage()
        self.registry.start()
        self.count += 1
        return f"{self.registry.host}/bench/{tool}{self.count}:v1"

    def reconcile(self) -> float:
        target = self.fresh("reconcile")
        return _timed([common.RECONCILE, "--state-dir", str(self.state), "--log-format", "json",
                       "images", "push", target, "--from", self.source])  # fmt: skip

    def docker_push(self) -> float:
        assert self.docker
        target = self.fresh("docker")
        subprocess.run([common.DOCKER, "-H", self.docker, "tag", self.source, target],
                       check=True, capture_output=True)  # fmt: skip
        try:
            return _timed([common.DOCKER, "-H", self.docker, "push", "-q", target])
        finally:
            subprocess.run([common.DOCKER, "-H", self.docker, "rmi", target],
                           capture_output=True, check=False)  # fmt: skip

    def skopeo(self) -> float:
        target = self.fresh("skopeo")
        return _timed(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{self.layout}",
                       f"docker://{target}"])  # fmt: skip


def measure(repeat: int, work: Path, docker: str | None, layers: int = 4,
            mib: int = 25) -> list[common.Result]:  # fmt: skip
    """Result rows (metric push.image, n = image MiB) for the three tools."""
    layout = work / "layout"
    size = build_layout(layout, layers, mib)
    n = round(size / 2**20)
    registry = started_registry()
    own = None
    rows: list[common.Result] = []
    skipped: dict[str, str] = {}
    try:
        if docker is None:
            own = Dockerd(work)
            try:
                own.start()
                docker = own.sock
            except (OSError, RuntimeError) as exc:
                skipped["docker"] = f"dockerd did not start: {exc}"
        peers = Peers(registry, layout, work, docker)
        peers.seed()
        runners: dict[str, Callable[[], float]] = {"reconcile": peers.reconcile}
        if docker:
            runners["docker"] = peers.docker_push
        if shutil.which("skopeo"):
            runners["skopeo"] = peers.skopeo
        else:
            skipped["skopeo"] = "skopeo is not installed (scripts/install-deps.sh)"
        samples = _interleaved(runners, repeat, skipped)
    finally:
        if own is not None:
            own.stop()
        stop_registry(registry)
    for key, tool in TOOLS.items():
        if key in samples and key not in skipped:
            rows.append(common.result("push.image", n, tool, samples[key]))
        else:
            rows.append(common.not_run("push.image", n, tool, skipped.get(key, "no result")))
    return rows


def _interleaved(runners: dict[str, Callable[[], float]], repeat: int,
                 skipped: dict[str, str]) -> dict[str, list[float]]:  # fmt: skip
    """a, b, c, a, b, c, ...: load from elsewhere hits every tool alike."""
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeat):
        for name, run in runners.items():
            if name in skipped:
                continue
            try:
                samples[name].append(run())
            except subprocess.CalledProcessError as exc:
                why = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
                skipped[name] = f"{name} failed: {(why or ['?'])[0][:200]}"
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--mib", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    common.require_root()
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        rows = measure(args.repeat, work, os.environ.get("DOCKER_HOST"), args.layers, args.mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by_tool = {r["tool"]: r for r in rows if "median" in r}
    for row in rows:
        print(common.describe(row))
    base = by_tool.get(TOOLS["reconcile"])
    for key in ("docker", "skopeo"):
        peer = by_tool.get(TOOLS[key])
        if base and peer:
            print(f"reconcile / {key}: {base['median'] / peer['median']:.2f}x (lower is faster)")
    if args.out:
        args.out.write_text(json.dumps({"results": rows,
                                        "spread": {t: statistics.pstdev(r["samples"])
                                                   for t, r in by_tool.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
