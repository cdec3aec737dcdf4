"""Pull-and-unpack of a ~100 MB image from a local docker-registry: `reconcile images pull`
against `docker pull` (a dockerd started here) and `skopeo copy` (transfer only), same
registry, same run. The image: busybox + N layers of incompressible data, gzip, built here.

Run as root: .venv/bin/python bench/bench_pull.py [--layers 4] [--mib 25] [--repeat 5]
Prints medians and ratios (with the spread of the per-repetition ratios: the peers take
turns, so each repetition is a pair measured under the same load), writes
bench/results/pull-<date>.json. A peer that cannot run is reported as not run, with the
reason. Leaves nothing behind. The checkout's bytecode is compiled once before timing, as
an installed reconcile has it (else each run would compile ~100 modules, ~0.2 s).
"""

from __future__ import annotations

import argparse
import datetime
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from reconciler.drivers.images import oci  # noqa: E402
from tests import image_factory as f  # noqa: E402
from tests.registry_helpers import Registry, started_registry, stop_registry  # noqa: E402

RECONCILE = str(ROOT / ".venv/bin/reconcile")


def build_image(registry: Registry, layers: int, mib: int) -> tuple[str, int]:
    """Push busybox + `layers` random layers; return (reference, compressed bytes)."""
    busybox = Path(tempfile.mkdtemp(prefix="bench-bb-"))
    try:
        script = ROOT / "scripts" / "make-busybox-image.py"
        subprocess.run([sys.executable, str(script), str(busybox)], check=True)
        index = json.loads((busybox / "index.json").read_bytes())
        top = index["manifests"][0]["digest"]
        manifest = json.loads((busybox / oci.blob_name(top)).read_bytes())
        base = (busybox / oci.blob_name(manifest["layers"][0]["digest"])).read_bytes()
    finally:
        shutil.rmtree(busybox)
    made = [f.Layer(gzip.compress(base, 1, mtime=0), oci.sha256_digest(base), oci.MEDIA_LAYER_GZIP)]
    for i in range(layers):
        tar = f.layer_tar([f.file(f"data/blob{i}", os.urandom(mib << 20))])
        made.append(f.Layer(gzip.compress(tar, 1, mtime=0), oci.sha256_digest(tar),
                            oci.MEDIA_LAYER_GZIP))  # fmt: skip
    config = f.make_config(made)
    manifest_bytes = oci.build_manifest(
        oci.descriptor(oci.MEDIA_CONFIG, config),
        [oci.descriptor(m.media_type, m.blob) for m in made],
    )
    registry.push_image("bench/big", "v1", manifest_bytes, config, [m.blob for m in made])
    return f"{registry.host}/bench/big:v1", sum(len(m.blob) for m in made)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})  # fmt: skip
    return time.perf_counter() - start


def bench_reconcile(ref: str, work: Path) -> float:
    state = work / "reconcile-state"
    try:
        return timed([RECONCILE, "--state-dir", str(state), "--log-format", "json",
                      "images", "pull", ref])  # fmt: skip
    finally:
        shutil.rmtree(state, ignore_errors=True)


def bench_skopeo(ref: str, work: Path) -> float:
    out = work / "skopeo-out"
    try:
        return timed(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}"])
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Dockerd:
    """A private dockerd (own data root, no networking changes) for `docker pull`."""

    def __init__(self, work: Path) -> None:
        self.work = work / "docker"
        self.sock = f"unix://{self.work}/docker.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.work.mkdir()
        log = (self.work / "dockerd.log").open("wb")
        self.process = subprocess.Popen(
            ["dockerd", "--data-root", f"{self.work}/data", "--exec-root", f"{self.work}/exec",
             "--pidfile", f"{self.work}/pid", "-H", self.sock, "--bridge=none",
             "--iptables=false", "--ip6tables=false", "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "-H", self.sock, "info"],
                             capture_output=True).returncode != 0:  # fmt: skip
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("dockerd did not start (see dockerd.log)")
            time.sleep(0.2)

    def pull(self, ref: str) -> float:
        try:
            return timed(["docker", "-H", self.sock, "pull", "-q", ref])
        finally:
            subprocess.run(["docker", "-H", self.sock, "rmi", "-f", ref], capture_output=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                if str(self.work) in line.split()[1]:
                    subprocess.run(["umount", "-l", line.split()[1]], check=False)
        shutil.rmtree(self.work, ignore_errors=True)


def measure(runners: dict[str, Callable[[], float]], repeat: int,
            results: dict[str, Any]) -> None:  # fmt: skip
    """Interleaved (a, b, c, a, b, c, ...) so that load from elsewhere hits every peer alike."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeat):
        for name, run in runners.items():
            if name in results:
                continue  # already failed
            try:
                times[name].append(run())
            except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
                results[name] = {"run": False, "reason": str(exc).splitlines()[0][:200]}
    for name, runs in times.items():
        if name in results:
            print(f"{name:<10} not run: {results[name]['reason']}")
            continue
        results[name] = {"run": True, "median_s": statistics.median(runs), "times_s": runs}
        rounded = [round(t, 3) for t in runs]
        print(f"{name:<10} median {statistics.median(runs):7.3f}s  runs {rounded}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--mib", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, help="default bench/results/pull-<date>.json")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "reconciler")],
                   check=True, env=common.bytecode_env())  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    registry = started_registry()
    dockerd = Dockerd(work)
    results: dict[str, Any] = {}
    try:
        ref, size = build_image(registry, args.layers, args.mib)
        print(f"image {ref}: {size / 2**20:.1f} MiB compressed, {args.layers + 1} layers")
        runners: dict[str, Callable[[], float]] = {"reconcile": lambda: bench_reconcile(ref, work)}
        try:
            dockerd.start()
            runners["docker"] = lambda: dockerd.pull(ref)
        except (OSError, RuntimeError) as exc:
            results["docker"] = {"run": False, "reason": str(exc)}
        if shutil.which("skopeo"):
            runners["skopeo"] = lambda: bench_skopeo(ref, work)
        else:
            results["skopeo"] = {"run": False, "reason": "skopeo is not installed"}
        measure(runners, args.repeat, results)
    finally:
        dockerd.stop()
        stop_registry(registry)
        shutil.rmtree(work, ignore_errors=True)
    for peer in ("docker", "skopeo"):
        if results.get(peer, {}).get("run") and results["reconcile"].get("run"):
            ratio = results["reconcile"]["median_s"] / results[peer]["median_s"]
            pairs = [a / b for a, b in zip(results["reconcile"]["times_s"],
                                           results[peer]["times_s"], strict=False)]  # fmt: skip
            results[f"ratio_vs_{peer}"] = ratio
            results[f"pair_ratios_vs_{peer}"] = pairs
            print(f"reconcile / {peer}: {ratio:.2f}x (per repetition {min(pairs):.2f}-"
                  f"{max(pairs):.2f}; lower is faster)")
    results.update(image_mib=size / 2**20, layers=args.layers + 1, cpus=os.cpu_count(),
                   loadavg_at_end=os.getloadavg())  # fmt: skip
    out = args.out or ROOT / "bench" / "results" / f"pull-{datetime.date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
