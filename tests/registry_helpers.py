"""A real `docker-registry` (Debian package) on 127.0.0.1 for pull tests, and a pusher.

The registry runs from a config written to a temp dir (filesystem storage there, no blob
descriptor cache so tampered blobs are served as they are on disk), optionally behind
htpasswd auth (bcrypt hashes from `htpasswd -B`, apache2-utils). Images are pushed with
the OCI distribution push API (POST uploads, PUT ?digest=, PUT manifests).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.drivers.images import oci
from tests import image_factory as f
from tests import requirements
from tests.netutil import free_port

REGISTRY_BIN = "/usr/bin/docker-registry"
HTPASSWD_BIN = "/usr/bin/htpasswd"


def require_registry(*tools: str) -> None:
    missing = [t for t in (REGISTRY_BIN, *tools) if not os.path.exists(t)]
    if not missing:
        return
    requirements.missing(f"registry tests need {', '.join(missing)} (docker-registry)")


@dataclass
class Registry:
    root: Path
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    process: subprocess.Popen[bytes] | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # manifest digest -> size pushed
    access_log: bool = False  # log every request (see requests())
    extra_config: str = ""  # more top-level YAML (a token auth section)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = self.port or free_port()  # a restart keeps its port
        auth = ""
        if self.user:
            htpasswd = self.root / "htpasswd"
            subprocess.run([HTPASSWD_BIN, "-Bbc", str(htpasswd), self.user, self.password],
                           check=True, capture_output=True)  # fmt: skip
            auth = f"auth: {{htpasswd: {{realm: test, path: {htpasswd}}}}}\n"
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            f"log: {{level: error, accesslog: {{disabled: {str(not self.access_log).lower()}}}}}\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.root / 'data'}}}\n"
            "  maintenance: {uploadpurging: {enabled: false}}\n"
            f"http: {{addr: '{self.host}'}}\n{auth}{self.extra_config}"
        )
        log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)],
                                        stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not start: {config.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # -- push API ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> http.client.HTTPResponse:  # fmt: skip
        conn = http.client.HTTPConnection(self.host, timeout=60)
        all_headers = dict(headers or {})
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def push_blob(self, name: str, data: bytes) -> str:
        digest = oci.sha256_digest(data)
        started = self._request("POST", f"/v2/{name}/blobs/uploads/")
        assert started.status == 202, started.status
        location = urlsplit(started.getheader("Location", ""))
        sep = "&" if location.query else "?"
        path = f"{location.path}?{location.query}{sep}digest={digest}".replace("?&", "?")
        done = self._request("PUT", path, data, {"Content-Type": "application/octet-stream"})
        assert done.status == 201, done.status
        return digest

    def push_manifest(self, name: str, tag: str, data: bytes, media_type: str) -> str:
        response = self._request("PUT", f"/v2/{name}/manifests/{tag}", data,
                                 {"Content-Type": media_type})  # fmt: skip
        assert response.status == 201, response.status
        self.sizes[oci.sha256_digest(data)] = len(data)
        return oci.sha256_digest(data)

    def push_image(self, name: str, tag: str, manifest: bytes, config: bytes,
                   layers: list[bytes]) -> str:  # fmt: skip
        for blob in (*layers, config):
            self.push_blob(name, blob)
        media = json.loads(manifest).get("mediaType", oci.MEDIA_MANIFEST)
        return self.push_manifest(name, tag, manifest, media)

    def push_entries(self, name: str, tag: str, layers: list[list[f.Entry]],
                     compress: bool = True) -> str:  # fmt: skip
        manifest, config, made = f.image_parts(layers, compress=compress)
        return self.push_image(name, tag, manifest, config, [m.blob for m in made])

    def push_layout(self, name: str, tag: str, layout: Path) -> str:
        """Push the single image of an OCI layout folder (e.g. the busybox test image)."""
        index = json.loads((layout / "index.json").read_bytes())
        manifest = (layout / oci.blob_name(index["manifests"][0]["digest"])).read_bytes()
        parsed = json.loads(manifest)
        for desc in (parsed["config"], *parsed["layers"]):
            self.push_blob(name, (layout / oci.blob_name(desc["digest"])).read_bytes())
        return self.push_manifest(name, tag, manifest, parsed.get("mediaType", oci.MEDIA_MANIFEST))

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request so far (needs access_log=True)."""
        text = (self.root / "registry.log").read_text(errors="replace")
        found = re.findall(r'"([A-Z]+) (\S+) HTTP/1\.[01]" (\d{3})', text)
        return [(method, path, int(status)) for method, path, status in found]

    def uploads_left(self, name: str = "") -> list[Path]:
        """Upload sessions the registry still keeps (in repository `name`, or anywhere)."""
        repos = self.root / "data/docker/registry/v2/repositories"
        top = repos / name if name else repos
        return sorted(p for p in top.glob("**/_uploads/*")) if top.is_dir() else []

    def reset_storage(self) -> None:
        """Forget every blob and repository (the registry must be stopped)."""
        shutil.rmtree(self.root / "data", ignore_errors=True)

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob on disk (to tamper with it)."""
        hexpart = oci.digest_hex(digest)
        return self.root / "data/docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"


def retag_with_env(registry: Registry, layout: Path, name: str, tag: str,
                   moved: str = "1") -> str:
    """Move `tag` to the same layers with a changed config (a new image digest): the
    image's Env gets MOVED=`moved`."""
    index = json.loads((layout / "index.json").read_bytes())
    manifest = json.loads((layout / oci.blob_name(index["manifests"][0]["digest"])).read_bytes())
    config = json.loads((layout / oci.blob_name(manifest["config"]["digest"])).read_bytes())
    config["config"]["Env"] = [*config["config"].get("Env", []), f"MOVED={moved}"]
    config_bytes = oci.canonical_json(config)
    registry.push_blob(name, config_bytes)
    manifest["config"] = oci.descriptor(oci.MEDIA_CONFIG, config_bytes)
    return registry.push_manifest(name, tag, oci.canonical_json(manifest), oci.MEDIA_MANIFEST)


def started_registry(user: str = "", password: str = "", access_log: bool = False,
                     extra_config: str = "", root: Path | None = None) -> Registry:  # fmt: skip
    require_registry(*([HTPASSWD_BIN] if user else []))
    root = root or Path(tempfile.mkdtemp(prefix="reconcile-registry-"))
    registry = Registry(root, user=user, password=password, access_log=access_log,
                        extra_config=extra_config)  # fmt: skip
    registry.start()
    return registry


def stop_registry(registry: Registry) -> None:
    registry.stop()
    shutil.rmtree(registry.root, ignore_errors=True)
