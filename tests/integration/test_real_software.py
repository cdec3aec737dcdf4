"""Real software on the real kernel: a Debian image made with debootstrap runs nginx and
redis with a bind mount, a named volume and a published port; the data survives a replace."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.driver import NativeDriver
from tests import debian_image
from tests.integration.native_helpers import REPO, find_leaks, require_host
from tests.netutil import free_port

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]

STACK = """\
version: 1
name: {name}
images:
  debian: {{oci: {layout}}}
volumes:
  data: {{}}
containers:
  web:
    image: debian
    command: ["nginx", "-g", "daemon off;"]
    ports: ["127.0.0.1:{port}:80"]
    volumes: ["./html:/var/www/html:ro"]
    stop_grace_period: 3s
  cache:
    image: debian
    command: ["redis-server", "--appendonly", "yes", "--dir", "/data", "--protected-mode", "no"]
    volumes: ["data:/data"]
    env: {{REV: "{rev}"}}
    stop_grace_period: 5s
"""


def wait(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Deployment:
    def __init__(self, tmp: Path, layout: Path) -> None:
        self.name = f"rs{random.randrange(10**6)}"
        self.state, self.stack, self.layout = tmp / "state", tmp / "stack.yaml", layout
        self.port = free_port()
        (tmp / "html").mkdir()
        (tmp / "html" / "index.html").write_text("served from a bind mount\n")

    def write(self, rev: int) -> None:
        self.stack.write_text(STACK.format(name=self.name, layout=self.layout, port=self.port,
                                           rev=rev))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*RECONCILE, "--state-dir", str(self.state), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
        return done

    def redis(self, *argv: str) -> str:
        return self.cli("exec", f"{self.name}/cache", "--", "redis-cli", *argv).stdout.strip()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_host()
    return debian_image.write_layout(tmp_path_factory.mktemp("debian") / "layout")


@pytest.fixture
def deployment(tmp_path: Path, layout: Path) -> Iterator[Deployment]:
    d = Deployment(tmp_path, layout)
    yield d
    subprocess.run([*RECONCILE, "--state-dir", str(d.state), "down", d.name, "--volumes"],
                   cwd=REPO, capture_output=True, timeout=300)
    names = {f"{d.name}-web", f"{d.name}-cache"}
    assert find_leaks(NativeDriver(d.state), names) == []


def test_nginx_and_redis_from_debootstrap_and_data_survives_a_replace(
        deployment: Deployment) -> None:
    d = deployment
    d.write(rev=1)
    d.cli("apply", str(d.stack))
    page = wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{d.port}/", timeout=2)
                .read().decode(), "nginx on the published port")
    assert page == "served from a bind mount\n"
    wait(lambda: d.redis("ping") == "PONG", "redis")
    assert d.redis("set", "visits", "41") == "OK"
    assert d.redis("incr", "visits") == "42"
    before = {r["name"]: r for r in json.loads(d.cli("ps", "-o", "json", d.name).stdout)}
    d.write(rev=2)  # a changed env replaces the redis container; its volume stays
    applied = d.cli("apply", str(d.stack)).stdout
    assert f"replace {d.name}-cache" in applied and f"unchanged {d.name}-web" in applied
    wait(lambda: d.redis("ping") == "PONG", "redis after the replace")
    assert d.redis("get", "visits") == "42"
    after = {r["name"]: r for r in json.loads(d.cli("ps", "-o", "json", d.name).stdout)}
    assert after[f"{d.name}-cache"]["pid"] != before[f"{d.name}-cache"]["pid"]
    assert after[f"{d.name}-web"]["pid"] == before[f"{d.name}-web"]["pid"]
