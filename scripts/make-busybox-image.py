#!/usr/bin/env python3
"""Write a busybox OCI image layout folder from the host's static busybox.

    make-busybox-image.py OUTDIR [--busybox /bin/busybox]

One uncompressed layer: /bin/busybox, a symlink per applet (`busybox --list-full`),
/etc/passwd (root, nobody), /etc/group, /tmp (1777), /root, /var/www. Config: Cmd ["sh"],
Env PATH. Deterministic (sorted entries, mtime 0, owner 0:0): the same busybox always
gives the same index.json, so running it twice changes nothing.
On Debian the binary comes from the `busybox-static` package.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.drivers.images import oci

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n"
DIRS = {"bin": 0o755, "etc": 0o755, "root": 0o700, "tmp": 0o1777, "var": 0o755, "var/www": 0o755}


def applets(busybox: Path) -> list[str]:
    """Applet paths relative to / ("bin/sh", "usr/bin/wget", ...)."""
    listing = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout
    names = {line.strip().lstrip("/") for line in listing.splitlines() if line.strip()}
    names.discard("bin/busybox")
    return sorted(n for n in names if ".." not in n.split("/"))


def layer_tar(busybox: Path) -> bytes:
    links = applets(busybox)
    dirs = dict(DIRS)
    for link in links:
        parts = link.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:depth]), 0o755)
    files = {"bin/busybox": (busybox.read_bytes(), 0o755), "etc/passwd": (PASSWD, 0o644)}
    files["etc/group"] = (GROUP, 0o644)
    entries: dict[str, tarfile.TarInfo] = {}
    for name, mode in dirs.items():
        entries[name] = _info(name, tarfile.DIRTYPE, mode)
    for name, (data, mode) in files.items():
        entries[name] = _info(name, tarfile.REGTYPE, mode, size=len(data))
    for link in links:
        entries[link] = _info(link, tarfile.SYMTYPE, 0o777, linkname="/bin/busybox")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(entries, key=lambda n: n.split("/")):
            data = files.get(name, (b"", 0))[0]
            tar.addfile(entries[name], io.BytesIO(data) if name in files else None)
    return buffer.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.uid = info.gid = info.mtime = 0
    info.uname = info.gname = ""
    return info


def image(busybox: Path) -> tuple[bytes, bytes, bytes]:
    """(manifest, config, layer) of the busybox image."""
    layer = layer_tar(busybox)
    os_name, arch = oci.host_platform()
    config = oci.canonical_json(
        {
            "architecture": arch,
            "os": os_name,
            "created": EPOCH,
            "config": {"Cmd": ["sh"], "Env": [f"PATH={PATH}"]},
            "rootfs": {"type": "layers", "diff_ids": [oci.sha256_digest(layer)]},
            "history": [{"created": EPOCH, "created_by": "scripts/make-busybox-image.py"}],
        }
    )
    manifest = oci.build_manifest(
        oci.descriptor(oci.MEDIA_CONFIG, config), [oci.descriptor(oci.MEDIA_LAYER, layer)]
    )
    return manifest, config, layer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--busybox", type=Path, default=Path("/bin/busybox"))
    args = parser.parse_args(argv)
    if not args.busybox.is_file():
        print(
            f"error: {args.busybox} not found; install the Debian package busybox-static "
            "(apt-get install busybox-static) or pass --busybox PATH",
            file=sys.stderr,
        )
        return 1
    manifest, config, layer = image(args.busybox)
    digest = oci.write_layout(
        args.outdir, manifest, [config, layer], {"org.opencontainers.image.ref.name": "busybox"}
    )
    print(f"{args.outdir}: busybox image {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
