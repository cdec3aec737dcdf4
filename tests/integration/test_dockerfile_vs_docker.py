"""The image config of a Dockerfile build, field by field, against what `docker build`
(the legacy builder, DOCKER_BUILDKIT=0, on a private dockerd) makes of the same
Dockerfile and context, for the fields both set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.common import docker_archive
from reconciler.drivers.native.driver import NativeDriver
from reconciler.model.build import BuildRequest
from reconciler.model.desired import ImageSource
from tests.docker_engine import DOCKER_CLI, PrivateEngine, docker_engine
from tests.integration.native_helpers import REPO, require_host

pytestmark = pytest.mark.integration

FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Labels",
          "Volumes", "StopSignal", "Healthcheck", "Shell")  # fmt: skip
DOCKERFILES = {
    "full": """\
ARG VERSION=1.0
FROM busybox AS build
ARG VERSION
ENV APP_VERSION=$VERSION MODE="prod mode"
WORKDIR /src
COPY app/ ./app/
RUN mkdir -p /out && cp -r app /out/ && echo "$APP_VERSION" > /out/version

FROM busybox
LABEL org.opencontainers.image.version=${VERSION:-none} "com.example.team"="core"
ENV PATH=/app/bin:$PATH HOME=/home/app
COPY --from=build /out /app
WORKDIR /app
WORKDIR bin
USER nobody:nogroup
EXPOSE 8080 53/udp 9000-9001
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --timeout=3s --start-period=1m --retries=5 CMD ["wget", "-q", "-O-", "http://localhost:8080/"]
SHELL ["/bin/sh", "-eu", "-c"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo "$APP_VERSION"
""",
    "entrypoint-shell": """\
FROM busybox
CMD ["base-cmd"]
ENTRYPOINT exec sleep 1
HEALTHCHECK NONE
""",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateEngine, Path]]:
    require_host()
    with docker_engine() as started:
        work = tmp_path_factory.mktemp("image")
        subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"),
                        str(work / "oci")], check=True, capture_output=True)  # fmt: skip
        archive = docker_archive(work / "oci", work / "bb.tar", "busybox:latest")
        subprocess.run([DOCKER_CLI, "-H", started.host, "load", "-i", str(archive)],
                       check=True, capture_output=True)  # fmt: skip
        yield started, work / "oci"


def _docker_config(engine: PrivateEngine, context: Path, tag: str) -> dict[str, Any]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run([DOCKER_CLI, "-H", engine.host, "build", "--network", "none", "-t",
                           tag, str(context)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    inspect = subprocess.run([DOCKER_CLI, "-H", engine.host, "image", "inspect", tag],
                             capture_output=True, text=True, check=True)  # fmt: skip
    config: dict[str, Any] = json.loads(inspect.stdout)[0]["Config"]
    return config


def _our_config(state: Path, busybox: Path, context: Path) -> dict[str, Any]:
    driver = NativeDriver(state)
    driver.layout.make_dirs()
    driver.images.ensure(ImageSource(key="busybox", kind="oci", path=str(busybox),
                                     identity="ref:docker.io/library/busybox:latest"))  # fmt: skip
    result = driver.build_dockerfile(BuildRequest(context), ["local/cmp:1"], lambda _l: None)
    manifest = json.loads(driver.images.read_blob(result.digest))
    config: dict[str, Any] = json.loads(driver.images.read_blob(manifest["config"]["digest"]))
    return dict(config["config"])


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_config_matches_docker_build(engine: tuple[PrivateEngine, Path], tmp_path: Path,
                                     name: str) -> None:  # fmt: skip
    started, busybox = engine
    context = tmp_path / "ctx"
    (context / "app").mkdir(parents=True)
    (context / "app" / "main.sh").write_text("echo hi\n")
    (context / "Dockerfile").write_text(DOCKERFILES[name])
    theirs = _docker_config(started, context, f"cmp-{name}:1")
    ours = _our_config(tmp_path / "state", busybox, context)
    compared = [f for f in FIELDS if theirs.get(f) not in (None, {}, [], "")
                or ours.get(f) not in (None, {}, [], "")]  # fmt: skip
    assert len(compared) >= (8 if name == "full" else 3)
    for field in compared:
        assert ours.get(field) == theirs.get(field), field
