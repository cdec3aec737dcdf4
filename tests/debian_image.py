"""A real Debian 12 image for the real-software tests: `debootstrap --variant=minbase` with
nginx-light and redis-server, made once and cached as a tar between runs (CACHE), then
turned into an OCI layout. It carries what real images carry: /dev nodes, setuid files,
users, hard links."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from reconciler.drivers.images import oci
from tests.requirements import need

CACHE = Path(os.environ.get("RECONCILE_TEST_CACHE", "/var/cache/reconcile-tests"))
MIRROR = os.environ.get("RECONCILE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("nginx-light", "redis-server")
TAR = CACHE / f"debian12-{'-'.join(PACKAGES)}.tar"


def rootfs_tar() -> Path:
    """The cached root file system tar, debootstrapped first when missing (minutes)."""
    if TAR.is_file():
        return TAR
    need(shutil.which("debootstrap"), "debootstrap is not installed (scripts/install-deps.sh)")
    CACHE.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        root = Path(work) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                        "bookworm", str(root), MIRROR], check=True, capture_output=True,
                       timeout=1800)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(root / cache, ignore_errors=True)  # our own fresh tree: no links out
        partial = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf",
                        str(partial), "."], check=True)
        os.replace(partial, TAR)
    return TAR


def write_layout(outdir: Path) -> Path:
    """An OCI layout of the cached root file system, one uncompressed layer."""
    layer = rootfs_tar().read_bytes()
    os_name, arch = oci.host_platform()
    config = oci.canonical_json({
        "architecture": arch, "os": os_name,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["bash"]},
        "rootfs": {"type": "layers", "diff_ids": [oci.sha256_digest(layer)]},
    })
    manifest = oci.build_manifest(oci.descriptor(oci.MEDIA_CONFIG, config),
                                  [oci.descriptor(oci.MEDIA_LAYER, layer)])
    oci.write_layout(outdir, manifest, [config, layer])
    return outdir
