"""A realistic Compose file applied by `reconcile` on the native driver (real runc, kernel
network, a real registry on 127.0.0.1 for the `image:` references): names as docker
compose gives them, depends_on service_healthy, a published port, a named volume shared
by two services, environment with `$$`, a healthcheck; `down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.driver import NativeDriver
from tests.integration.native_helpers import REPO, find_leaks, require_host, wait_for
from tests.netutil import free_port
from tests.registry_helpers import Registry, started_registry, stop_registry

pytestmark = pytest.mark.integration
RECONCILE = [sys.executable, "-m", "reconciler.cli"]

COMPOSE = """\
name: {name}
x-base: &base
  image: {image}
  stop_grace_period: 1s
services:
  db:
    <<: *base
    command: ["sh", "-c", "echo $${{ROLE}}-data > /data/index.html; sleep 1; touch /tmp/ready;
              exec httpd -f -p 8080 -h /data"]
    environment: {{ROLE: db}}
    volumes: [data:/data]
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 10
  web:
    <<: *base
    command: sh -c 'wget -qO- http://db:8080/ > /srv/index.html && exec httpd -f -p 80 -h /srv'
    tmpfs: [/srv]
    ports: ["127.0.0.1:{port}:80"]
    depends_on:
      db: {{condition: service_healthy}}
    restart: unless-stopped
    labels: [tier=front]
  reader:
    <<: *base
    command: ["sh", "-c", "cat /data/index.html; sleep 3600"]
    volumes:
      - type: volume
        source: data
        target: /data
        read_only: true
    depends_on: [db]
    cap_drop: [NET_RAW]
volumes:
  data: {{}}
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_host()
    registry: Registry = started_registry()
    try:
        layout = tmp_path_factory.mktemp("busybox-layout")
        subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"),
                        str(layout)], check=True, capture_output=True)
        registry.push_layout("tools/busybox", "1.36", layout)
        yield f"{registry.host}/tools/busybox:1.36"
    finally:
        stop_registry(registry)


def _run(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*RECONCILE, "--state-dir", str(state), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
    return done


def _http(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return str(response.read().decode().strip())


def _answer(port: int) -> str:
    try:
        return _http(port)
    except OSError:
        return ""


def test_a_compose_project_runs_on_the_native_driver_and_down_leaves_nothing(
        image: str, tmp_path: Path) -> None:
    name = f"itc-{os.getpid() % 10000}-{random.randrange(10**5)}"
    port = free_port()
    project = tmp_path / "app"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE.format(name=name, image=image, port=port))
    state = tmp_path / "state"
    names = {f"{name}-{s}-1" for s in ("db", "web", "reader")}
    try:
        out = _run(state, "apply", "--wait-timeout", "60s", str(project / "compose.yaml"))
        assert f"+ create {name}-db-1" in out.stdout
        rows = {r["name"]: r for r in json.loads(_run(state, "ps", "-o", "json", name).stdout)}
        assert set(rows) == names
        assert {r["state"] for r in rows.values()} == {"running"}
        # web was held back until db's Compose healthcheck passed
        assert f"waiting {name}-web-1 (waiting for {name}-db-1 to be healthy)" in out.stdout
        # web fetched db's page by service name over the stack network, after db was healthy
        assert wait_for(lambda: _answer(port), 20, "web answers") == "db-data"
        logs = _run(state, "logs", f"{name}/reader-1").stdout
        assert logs.strip() == "db-data"
        again = _run(state, "plan", "--detailed-exitcode", str(project / "compose.yaml"))
        assert again.returncode == 0, again.stdout
    finally:
        down = _run(state, "down", "--volumes", str(project / "compose.yaml"), check=False)
    assert down.returncode == 0, down.stderr
    assert "removed volume" in down.stdout
    assert json.loads(_run(state, "ps", "-o", "json", name).stdout) == []
    assert find_leaks(NativeDriver(state), names) == []
