"""Declarative builds into the real store, and the busybox image made by the script.

Root is needed: layers are unpacked with owners and whiteouts."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.library import ImageLibrary
from reconciler.model.desired import BuildSpec, CopyStep, ImageSource
from reconciler.model.errors import ImageError
from tests import image_factory as f
from tests import requirements
from tests.integration.test_images import BASE, source, store_files

pytestmark = [
    pytest.mark.integration,
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageLibrary]:
    images = ImageLibrary(tmp_path / "state" / "images")
    yield images
    shutil.rmtree(images.root)


def _layout(path: Path, layers: list[list[f.Entry]]) -> Path:
    f.write_oci_layout(path, layers)
    return path


# --- build ------------------------------------------------------------------------------------


def build_source(
    base: ImageSource | None, spec: BuildSpec, identity: str = "build:app"
) -> ImageSource:
    return ImageSource(key="app", kind="build", identity=identity, build=spec, base=base)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    (app / "run").write_text("#!/bin/sh\necho app\n")
    (app / "run").chmod(0o755)
    (app / "lib" / "data.txt").write_text("data")
    (app / "current").symlink_to("lib/data.txt")
    return app


def test_build_is_deterministic(tmp_path: Path, app_dir: Path) -> None:
    base = source(_layout(tmp_path / "base", [BASE]), key="base")
    spec = BuildSpec(
        base="base",
        copy=(CopyStep(str(app_dir), "/app"), CopyStep(str(app_dir / "run"), "/tmp/")),
        env=(("MODE", "prod"),),
    )
    first = ImageLibrary(tmp_path / "one").ensure(build_source(base, spec))
    os.utime(app_dir / "run", (1, 1))  # mtimes are not part of the image
    second_store = ImageLibrary(tmp_path / "two")
    second = second_store.ensure(build_source(base, spec))
    assert first.digest == second.digest
    again = second_store.ensure(build_source(base, spec, identity="build:other"))
    assert again.digest == first.digest
    assert len(os.listdir(second_store.layers)) == 2


def test_build_layer_contents(store: ImageLibrary, tmp_path: Path, app_dir: Path) -> None:
    base = source(_layout(tmp_path / "base", [BASE]), key="base")
    spec = BuildSpec(
        base="base",
        copy=(CopyStep(str(app_dir), "/app"), CopyStep(str(app_dir / "run"), "/tmp/")),
    )
    record = store.ensure(build_source(base, spec))
    assert record.layers[0] == store.get(base.identity).layers[0]  # type: ignore[union-attr]
    top = record.layers[1]
    assert (top / "app/run").read_text() == "#!/bin/sh\necho app\n"
    assert stat.S_IMODE((top / "app/run").stat().st_mode) == 0o755
    assert (top / "app/lib/data.txt").read_text() == "data"
    assert os.readlink(top / "app/current") == "lib/data.txt"
    assert (top / "app/run").stat().st_mtime == 0
    assert stat.S_IMODE((top / "tmp").stat().st_mode) == 0o1777  # taken from the base
    assert (top / "tmp/run").is_file()


def test_build_config_merge(store: ImageLibrary, tmp_path: Path, app_dir: Path) -> None:
    base_config = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Labels": {"x": "1"}}
    layout = tmp_path / "base"
    f.write_oci_layout(layout, [BASE], config=base_config)
    spec = BuildSpec(
        base="base",
        env=(("A", "2"), ("B", "3")),
        workdir="/app",
        entrypoint=("/app/run",),
        user="101:101",
        labels=(("y", "2"),),
    )
    record = store.ensure(build_source(source(layout, key="base"), spec))
    assert record.config == {
        "Env": ["PATH=/bin", "A=2", "B=3"],
        "Entrypoint": ["/app/run"],  # a new entrypoint drops the base's Cmd, as in Docker
        "WorkingDir": "/app",
        "User": "101:101",
        "Labels": {"x": "1", "y": "2"},
    }
    assert len(record.layers) == 1  # no copy: no new layer


def test_build_from_scratch(store: ImageLibrary, app_dir: Path) -> None:
    spec = BuildSpec(
        base="scratch", copy=(CopyStep(str(app_dir / "run"), "/run.sh"),), cmd=("/run.sh",)
    )
    record = store.ensure(build_source(None, spec))
    assert len(record.layers) == 1
    assert (record.layers[0] / "run.sh").is_file()
    assert record.config == {"Cmd": ["/run.sh"]}


def test_build_with_missing_source_fails_cleanly(store: ImageLibrary, tmp_path: Path) -> None:
    spec = BuildSpec(base="scratch", copy=(CopyStep(str(tmp_path / "nope"), "/x"),))
    with pytest.raises(ImageError, match="does not exist"):
        store.ensure(build_source(None, spec))
    assert store_files(store) == []


def test_busybox_image_imports_and_runs_from_its_layer(store: ImageLibrary, tmp_path: Path) -> None:
    requirements.need(Path("/bin/busybox").is_file(), "needs /bin/busybox (busybox-static)")
    layout = tmp_path / "busybox"
    script = REPO / "scripts" / "make-busybox-image.py"
    subprocess.run([sys.executable, str(script), str(layout)], check=True, capture_output=True)
    record = store.ensure(source(layout, key="busybox"))
    root = record.layers[0]
    assert record.config["Cmd"] == ["sh"]
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert "nobody" in (root / "etc/passwd").read_text()
    echoed = subprocess.run(
        [str(root / "bin/busybox"), "echo", "hello"], check=True, capture_output=True, text=True
    )
    assert echoed.stdout == "hello\n"


@pytest.fixture(autouse=True)
def _root() -> None:
    requirements.need_root("unpacking layers (lchown, mknod, trusted xattrs)")
