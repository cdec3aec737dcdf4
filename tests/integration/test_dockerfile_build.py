"""Dockerfile builds on the real kernel: multi-stage builds on the busybox test image, RUN
through runc, the layer cache (which steps ran), reproducible digests, located errors,
and the result run by the native driver. Offline: the base is the busybox layout, stored
under the reference `busybox`."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.images.store import CACHE_PREFIX
from reconciler.drivers.native.driver import NativeDriver
from reconciler.model.build import BuildRequest, BuildResult
from reconciler.model.desired import ContainerSpec, ImageSource
from reconciler.model.errors import ImageError
from reconciler.model.hashing import config_hash
from tests.integration import native_helpers
from tests.integration.native_helpers import find_leaks, require_host, wait_for

pytestmark = pytest.mark.integration
busybox_image = native_helpers.busybox_image

BUSYBOX_REF = "ref:docker.io/library/busybox:latest"
MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
ARG GREETING=hello
ARG UNSET
ENV OUT=/out NAME=${GREETING}-env
WORKDIR /src
COPY . .
RUN mkdir -p $OUT && echo "$GREETING ${UNSET:-none} $NAME $(cat app/a.txt)" > $OUT/result \\
 && ls -A /src | tr '\\n' ' ' > $OUT/listing && echo >> $OUT/listing

FROM busybox
COPY --from=build --chown=nobody:nogroup /out /data/
WORKDIR data
USER nobody
RUN id -u > /tmp/uid && pwd > /tmp/pwd
CMD ["sh", "-c", "cat /data/result /data/listing /tmp/uid /tmp/pwd; stat -c %u /data/result"]
"""


class Builds:
    def __init__(self, driver: NativeDriver, root: Path) -> None:
        self.driver = driver
        self.root = root
        self.lines: list[str] = []
        self.names: set[str] = set()

    def context(self, dockerfile: str, files: dict[str, str]) -> Path:
        context = self.root / "ctx"
        context.mkdir(exist_ok=True)
        (context / "Dockerfile").write_text(dockerfile)
        for name, text in files.items():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            (context / name).write_text(text)
        return context

    def build(self, context: Path, tag: str = "local/app:1", **options: object) -> BuildResult:
        self.lines.clear()
        request = BuildRequest(context, **options)  # type: ignore[arg-type]
        return self.driver.build_dockerfile(request, [tag], self.lines.append)

    def run(self, tag: str) -> str:
        """Run the image to its end through the native driver; its output."""
        ref = f"docker.io/{tag}"
        image = ImageSource(key=tag, kind="ref", identity=f"ref:{ref}", ref=ref, pull="never")
        name = "dfb" + uuid.uuid4().hex[:6]
        spec = ContainerSpec(stack=name, key="app", name=f"{name}-app", replica=1, image=image)
        spec = ContainerSpec(**{**spec.__dict__, "config_hash": config_hash(spec)})
        self.names.add(spec.name)
        self.driver.ensure_image(image)
        self.driver.create(spec)
        self.driver.start(spec.name)
        exit_file = self.driver.layout.container(spec.name).exit
        wait_for(exit_file.exists, 10, "container exit")
        wait_for(lambda: not self.driver._monitor_alive(self.driver.layout.container(spec.name)),
                 10, "monitor exit")  # fmt: skip
        return "\n".join(line.text for line in self.driver.logs(spec.name))


@pytest.fixture
def builds(tmp_path: Path, busybox_image: ImageSource) -> Iterator[Builds]:
    require_host()
    driver = NativeDriver(tmp_path / "state")
    driver.layout.make_dirs()
    driver.images.ensure(ImageSource(key="busybox", kind="oci", identity=BUSYBOX_REF,
                                     path=busybox_image.path))  # fmt: skip
    harness = Builds(driver, tmp_path)
    yield harness
    for name in harness.names:
        driver.remove(name)
    assert not find_leaks(driver, harness.names)
    assert not list((driver.layout.root / "build").glob("*")), "a build left work files"


def _ran(result: BuildResult) -> list[str]:
    return [step.text.split()[0] + f"@{step.line}" for step in result.steps if step.ran]


def test_multi_stage_build_runs_in_the_native_driver(builds: Builds) -> None:
    context = builds.context(MULTI_STAGE, {"app/a.txt": "from-a", "skip/secret": "x",
                                           ".dockerignore": "skip\n*.log\n"})  # fmt: skip
    (context / "debug.log").write_text("noise")
    result = builds.build(context, args={"GREETING": "hey"})
    assert _ran(result) == ["WORKDIR@7", "COPY@8", "RUN@9", "COPY@13", "WORKDIR@14", "RUN@16"]
    assert result.unused_args == []
    output = builds.run("local/app:1").split("\n")
    assert output[0] == "hey none hey-env from-a"
    # .dockerignore kept skip/ and *.log out; the ignore file itself is in the context
    assert output[1].split() == [".dockerignore", "Dockerfile", "app"]
    assert output[2:5] == ["65534", "/data", "65534"]  # USER nobody, WORKDIR data, --chown
    config = _config(builds, "local/app:1")
    assert config["WorkingDir"] == "/data" and config["User"] == "nobody"
    assert config["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def _config(builds: Builds, tag: str) -> dict[str, object]:
    store = builds.driver.images
    digest = store.identities()[f"ref:docker.io/{tag}"]
    manifest = json.loads(store.read_blob(digest))
    inner: dict[str, object] = json.loads(store.read_blob(manifest["config"]["digest"]))["config"]
    return inner


def test_cache_hits_and_misses(builds: Builds) -> None:
    dockerfile = ("FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\n"
                  "COPY b.txt /b.txt\nRUN echo done\n")  # fmt: skip
    context = builds.context(dockerfile, {"a.txt": "a1", "b.txt": "b1"})
    first = builds.build(context)
    assert len(_ran(first)) == 5
    again = builds.build(context)
    assert _ran(again) == [] and all(step.cached for step in again.steps)
    assert again.digest == first.digest
    (context / "b.txt").write_text("b2")
    changed = builds.build(context)
    assert _ran(changed) == ["COPY@5", "RUN@6"]  # only the steps from the changed file on
    assert changed.digest != first.digest
    (context / "b.txt").write_text("b1")
    assert builds.build(context).digest == first.digest
    assert len(_ran(builds.build(context, no_cache=True))) == 5


def test_same_inputs_same_digest_in_another_store(builds: Builds, tmp_path: Path,
                                                  busybox_image: ImageSource) -> None:  # fmt: skip
    context = builds.context(MULTI_STAGE, {"app/a.txt": "x"})
    first = builds.build(context)
    other = NativeDriver(tmp_path / "other")
    other.layout.make_dirs()
    other.images.ensure(ImageSource(key="busybox", kind="oci", identity=BUSYBOX_REF,
                                    path=busybox_image.path))  # fmt: skip
    (context / "app/a.txt").touch()  # a new mtime changes nothing
    second = other.build_dockerfile(BuildRequest(context), ["local/app:1"], lambda _l: None)
    assert second.digest == first.digest
    epoch = other.build_dockerfile(BuildRequest(context, source_date_epoch=1700000000),
                                   ["local/app:2"], lambda _l: None)  # fmt: skip
    manifest = json.loads(other.images.read_blob(epoch.digest))
    created = json.loads(other.images.read_blob(manifest["config"]["digest"]))["created"]
    assert created == "2023-11-14T22:13:20Z"


def test_failing_run_shows_output_and_tags_nothing(builds: Builds) -> None:
    dockerfile = "FROM busybox\nRUN echo ok > /ok\nRUN echo out; echo err >&2; exit 3\n"
    context = builds.context(dockerfile, {})
    with pytest.raises(ImageError) as caught:
        builds.build(context, tag="local/broken:1", args={"TOKEN": "hunter2"})
    message = str(caught.value)
    assert message.startswith("Dockerfile:3: RUN failed with exit status 3")
    assert "  | out" in message and "  | err" in message and "hunter2" not in message
    identities = builds.driver.images.identities()
    assert "ref:docker.io/local/broken:1" not in identities
    assert len([i for i in identities if i.startswith(CACHE_PREFIX)]) == 1  # the first RUN


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("\nCOPY app/ /app/\n", "Dockerfile:3: COPY source 'app/' not found in the context"),
        ("COPY skip /x\n", "Dockerfile:2: COPY source 'skip' not found in the context"),
        ("ADD https://example.com/x /x\n", "Dockerfile:2: ADD from a URL is not supported"),
        ("COPY *.none /x/\n", "Dockerfile:2: COPY no source files were specified"),
        ("COPY a b /x\n", "Dockerfile:2: COPY with more than one source"),
        ("COPY --from=nowhere:1 /a /b\n", "Dockerfile:2: COPY --from=nowhere:1: not a stage"),
        ("USER ghost\nRUN true\n", "Dockerfile:3: RUN could not run: USER ghost"),
        ("RUN --mount=type=cache,target=/x true\n", "Dockerfile:2: RUN --mount is not supported"),
    ],
)
def test_errors_are_located(builds: Builds, steps: str, message: str) -> None:
    files = {"a": "1", "b": "2", "skip": "s", ".dockerignore": "skip"}
    context = builds.context("FROM busybox\n" + steps, files)
    with pytest.raises(ImageError) as caught:
        builds.build(context, tag="local/bad:1")
    assert str(caught.value).startswith(message), str(caught.value)
    assert "ref:docker.io/local/bad:1" not in builds.driver.images.identities()


def test_add_archive_target_network_and_prune(builds: Builds) -> None:
    context = builds.context(
        "FROM busybox AS first\nRUN echo first > /f\n"
        "FROM busybox AS second\nADD bundle.tar.gz /opt/\nRUN ip link | grep -c '^[0-9]' > /links\n"
        "CMD [\"sh\", \"-c\", \"cat /opt/inner/file /links\"]\n"
        "FROM first\nRUN echo never\n", {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"unpacked\n"
        info = tarfile.TarInfo("inner/file")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (context / "bundle.tar.gz").write_bytes(buffer.getvalue())
    result = builds.build(context, target="second")
    assert _ran(result) == ["ADD@4", "RUN@5"]  # the stage `first` is not needed: not built
    assert builds.run("local/app:1").split() == ["unpacked", "1"]  # loopback only
    with_network = builds.build(context, tag="local/app:2", target="second", network=True)
    assert _ran(with_network) == ["RUN@5"]  # the network is part of the RUN's key
    assert any(i.startswith(CACHE_PREFIX) for i in builds.driver.images.identities())
    in_use = frozenset(c.image_digest for c in builds.driver.observe().containers)
    builds.driver.prune_images(in_use)
    assert not any(i.startswith(CACHE_PREFIX) for i in builds.driver.images.identities())


def test_a_killed_builds_leftovers_are_cleaned(builds: Builds) -> None:
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    stale = builds.driver.layout.root / "build" / f"{dead}-0123456789ab-run"
    (stale / "rootfs").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(stale / "rootfs")], check=True)
    (stale / "rootfs" / "junk").write_text("left by a killed build")
    context = builds.context("FROM busybox\nRUN true\n", {})
    builds.build(context)
    assert not stale.exists()
    assert str(stale) not in Path("/proc/self/mountinfo").read_text()
