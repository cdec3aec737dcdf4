"""Cold apply, no-op apply and down of N busybox containers: reconcile (native driver)
against a shell-equivalent loop of raw `runc run -d` on the same machine, in the same run.

Run as root: .venv/bin/python bench/bench_native.py [--n 50] [--repeat 3]
Prints ratios and writes bench/results/native-<date>.json. Leaves nothing behind.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECONCILE = [str(ROOT / ".venv/bin/reconcile")]
RUNC = shutil.which("runc") or "/usr/sbin/runc"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def write_stack(path: Path, image: Path, n: int, name: str = "bench") -> None:
    lines = ["version: 1", f"name: {name}", "images:", f"  bb: {{oci: {image}}}", "containers:"]
    for i in range(n):
        # SIGKILL like `runc delete -f` on the other side (sleep as PID 1 ignores SIGTERM).
        lines += [f"  c{i:03d}:", "    image: bb", '    command: ["sleep", "3600"]',
                  "    stop_signal: SIGKILL"]
    path.write_text("\n".join(lines) + "\n")


def runc_bundle(work: Path, rootfs: Path, i: int) -> Path:
    bundle = work / f"b{i}"
    bundle.mkdir()
    subprocess.run([RUNC, "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sleep", "3600"]
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = f"/reconcile-bench-runc/c{i}"
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def bench_runc(work: Path, rootfs: Path, n: int) -> dict[str, float]:
    root = work / "runc-root"
    bundles = [runc_bundle(work, rootfs, i) for i in range(n)]
    start = time.perf_counter()
    for i, bundle in enumerate(bundles):
        subprocess.run([RUNC, "--root", str(root), "run", "-d", "--bundle", str(bundle),
                        f"bench-runc-{i}"], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    up = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        subprocess.run([RUNC, "--root", str(root), "delete", "-f", f"bench-runc-{i}"], check=True)
    down = time.perf_counter() - start
    for bundle in bundles:
        shutil.rmtree(bundle)
    for controller in Path("/sys/fs/cgroup").iterdir():  # runc leaves the parent behind
        parent = controller / "reconcile-bench-runc"
        if parent.is_dir():
            parent.rmdir()
    return {"apply": up, "down": down}


def bench_reconcile(work: Path, image: Path, n: int) -> dict[str, float]:
    state = work / "state"
    stack = work / "bench.yaml"
    write_stack(stack, image, n)
    base = [*RECONCILE, "--state-dir", str(state)]
    # Import the image first so both sides start from a ready root filesystem.
    write_stack(work / "warm.yaml", image, 1, name="warm")
    subprocess.run([*base, "apply", str(work / "warm.yaml")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*base, "down", "warm"], check=True, stdout=subprocess.DEVNULL)
    try:
        up = timed([*base, "apply", str(stack)])
        noop = timed([*base, "apply", str(stack)])
    finally:
        down = timed([*base, "down", "bench"])
    return {"apply": up, "noop_apply": noop, "down": down}


def extract_rootfs(image: Path, dest: Path) -> None:
    """The busybox image's single layer, unpacked for the raw-runc side."""
    index = json.loads((image / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((image / "blobs/sha256" / digest).read_text())
    dest.mkdir()
    for layer in manifest["layers"]:
        blob = image / "blobs/sha256" / layer["digest"].split(":")[1]
        subprocess.run(["tar", "-xf", str(blob), "-C", str(dest)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        work = Path(tmp)
        image = work / "busybox"
        subprocess.run([sys.executable, str(ROOT / "scripts/make-busybox-image.py"), str(image)],
                       check=True, stdout=subprocess.DEVNULL)
        rootfs = work / "rootfs"
        extract_rootfs(image, rootfs)
        for _ in range(args.repeat):
            for key, value in bench_runc(work, rootfs, args.n).items():
                samples.setdefault(f"runc.{key}", []).append(value)
            rec = work / "rec"
            rec.mkdir()
            for key, value in bench_reconcile(rec, image, args.n).items():
                samples.setdefault(f"reconcile.{key}", []).append(value)
            shutil.rmtree(rec)
    report(samples, args.n)
    return 0


def report(samples: dict[str, list[float]], n: int) -> None:
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {
        "apply": med["reconcile.apply"] / med["runc.apply"],
        "down": med["reconcile.down"] / med["runc.down"],
    }
    out = {"n": n, "date": datetime.datetime.now(datetime.UTC).isoformat(),
           "kernel": os.uname().release, "samples": samples, "median": med, "ratios": ratios}
    dest = ROOT / "bench/results" / f"native-{datetime.date.today()}.json"
    dest.write_text(json.dumps(out, indent=2))
    print(f"N={n}  (median of {len(samples['runc.apply'])})")
    print(f"cold apply: reconcile {med['reconcile.apply']:.2f}s vs runc loop "
          f"{med['runc.apply']:.2f}s  ratio {ratios['apply']:.2f}x")
    print(f"no-op apply: reconcile {med['reconcile.noop_apply']:.3f}s")
    print(f"down: reconcile {med['reconcile.down']:.2f}s vs runc delete loop "
          f"{med['runc.down']:.2f}s  ratio {ratios['down']:.2f}x")
    print(f"written {dest}")


if __name__ == "__main__":
    sys.exit(main())
