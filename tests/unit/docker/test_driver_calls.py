"""The docker driver's round trips, counted on a scripted engine: what a no-op observe,
a create+start and a removal ask the engine, and that the read-only path never imports
the docker SDK (its import alone costs more than a no-op apply may)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.drivers.docker import mapping
from reconciler.drivers.docker.driver import DockerDriver
from reconciler.model import labels as labelkeys
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource
from reconciler.model.errors import DriverError
from reconciler.model.hashing import config_hash
from tests.unit.docker.fake_engine import FakeEngine, fake_engine

V = "/v1.41"
DIGEST = "sha256:" + "d" * 64
IMAGE = ImageSource(key="bb", kind="ref", identity="ref:docker.io/library/busybox:1",
                    ref="docker.io/library/busybox:1")


def spec(key: str, **changes: Any) -> ContainerSpec:
    made = ContainerSpec(stack="shop", key=key, name=f"shop-{key}", replica=1, image=IMAGE,
                         source="/s.yaml", network="none", stop_signal="SIGKILL",
                         healthcheck=None)
    made = records.replace(made, **changes)
    return records.replace(made, config_hash=config_hash(made))


def inspect(made: ContainerSpec, cid: str, status: str = "running") -> dict[str, Any]:
    labels = mapping.container_labels(made, DIGEST, None)
    return {"Id": cid, "Name": f"/{made.name}", "Created": "2026-01-01T00:00:00Z",
            "Config": {"Labels": labels, "StopSignal": made.stop_signal,
                       "StopTimeout": int(made.stop_grace_period)},
            "HostConfig": {"NetworkMode": "none"},
            "State": {"Status": status, "Pid": 7, "StartedAt": "2026-01-01T00:00:01Z"}}


def two_running(engine: FakeEngine) -> None:
    a, b = spec("a"), spec("b", stop_signal="SIGTERM", stop_grace_period=10)
    engine.answer("GET", f"{V}/containers/json", body=[
        {"Id": "ida", "Labels": {labelkeys.STACK: "shop"}},
        {"Id": "idb", "Labels": {labelkeys.STACK: "shop"}}])
    engine.answer("GET", f"{V}/containers/ida/json", body=inspect(a, "ida"))
    engine.answer("GET", f"{V}/containers/idb/json", body=inspect(b, "idb"))
    engine.answer("GET", f"{V}/images/json", body=[])
    engine.answer("GET", f"{V}/volumes", body={"Volumes": []})


def paths(engine: FakeEngine, since: int = 0) -> list[str]:
    return sorted(f"{m} {p.split('?')[0]}" for m, p, _ in engine.requests[since:])


def test_observe_is_one_list_and_an_inspect_per_container(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        two_running(engine)
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        seen = driver.observe(frozenset({"shop"}))
    assert [c.name for c in seen.containers] == ["shop-a", "shop-b"]
    assert [c.pid for c in seen.containers] == [7, 7]
    assert paths(engine) == sorted([
        "GET /_ping", f"GET {V}/containers/json", f"GET {V}/containers/ida/json",
        f"GET {V}/containers/idb/json", f"GET {V}/images/json", f"GET {V}/volumes"])
    listed = next(p for m, p, _ in engine.requests if p.startswith(f"{V}/containers/json"))
    assert "io.reconcile.stack%3Dshop" in listed  # filtered by the engine, by our label


def test_removal_is_one_forced_delete_unless_the_stop_is_graceful(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        two_running(engine)
        engine.answer("DELETE", f"{V}/containers/ida", status=204)
        engine.answer("DELETE", f"{V}/containers/idb", status=204)
        engine.answer("POST", f"{V}/containers/idb/stop", status=204)
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        driver.observe(frozenset({"shop"}))
        before = len(engine.requests)
        driver.remove("shop-a")  # SIGKILL: the forced removal is the stop
        assert paths(engine, before) == [f"DELETE {V}/containers/ida"]
        before = len(engine.requests)
        driver.remove("shop-b")  # SIGTERM and 10 s: the engine's stop first
        assert paths(engine, before) == [f"DELETE {V}/containers/idb",
                                         f"POST {V}/containers/idb/stop"]
        assert engine.requests[-1][1] == f"{V}/containers/idb?v=1&force=1"


def test_create_then_start_asks_nothing_it_knows(tmp_path: Path) -> None:
    made = spec("c")
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", f"{V}/images/{IMAGE.ref}/json", body={
            "Id": "sha256:" + "e" * 64, "RepoDigests": [f"busybox@{DIGEST}"], "Config": {}})
        engine.answer("POST", f"{V}/containers/create", status=201, body={"Id": "idc"})
        engine.answer("POST", f"{V}/containers/idc/start", status=204)
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        for _ in range(2):  # the image is inspected once, not per container
            driver.create(made)
            driver.start(made.name)
        body = next(b for m, p, b in engine.requests if p.startswith(f"{V}/containers/create"))
    assert paths(engine) == sorted([
        "GET /_ping", f"GET {V}/images/{IMAGE.ref}/json",
        *[f"POST {V}/containers/create", f"POST {V}/containers/idc/start"] * 2])
    assert body["Labels"][labelkeys.IMAGE_DIGEST] == DIGEST
    assert (tmp_path / "state/docker/starts/idc").read_text() == "2"


def test_a_name_taken_by_a_foreign_container_is_named_in_the_error(tmp_path: Path) -> None:
    made = spec("d")
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", f"{V}/images/{IMAGE.ref}/json", body={"Id": "sha256:1"})
        engine.answer("POST", f"{V}/containers/create", status=409, body={"message": "in use"})
        engine.answer("GET", f"{V}/containers/shop-d/json", body={
            "Id": "f" * 64, "Config": {"Labels": {}, "Image": "nginx"}})
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        with pytest.raises(DriverError, match="ffffffffffff, image nginx"):
            driver.create(made)


def test_the_read_only_path_does_not_import_the_docker_sdk(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        two_running(engine)
        code = ("import sys\nfrom pathlib import Path\n"
                "from reconciler.drivers.docker.driver import DockerDriver\n"
                f"d = DockerDriver(Path({str(tmp_path)!r}) / 's', host={engine.host!r})\n"
                "assert len(d.observe(frozenset({'shop'})).containers) == 2\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                "('docker', 'requests', 'urllib3')))\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_stack_network_is_checked_only_when_its_last_member_goes(tmp_path: Path) -> None:
    a, b = spec("a", network="private"), spec("b", network="private")
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", f"{V}/containers/json", body=[
            {"Id": "ida", "Labels": {labelkeys.STACK: "shop"}},
            {"Id": "idb", "Labels": {labelkeys.STACK: "shop"}}])
        for made, cid in ((a, "ida"), (b, "idb")):
            info = inspect(made, cid)
            info["HostConfig"]["NetworkMode"] = "reconcile-shop"
            engine.answer("GET", f"{V}/containers/{cid}/json", body=info)
            engine.answer("DELETE", f"{V}/containers/{cid}", status=204)
        engine.answer("GET", f"{V}/images/json", body=[])
        engine.answer("GET", f"{V}/volumes", body={"Volumes": []})
        engine.answer("GET", f"{V}/networks/reconcile-shop", body={
            "Id": "n1", "Labels": {labelkeys.STACK: "shop"}, "Containers": {}})
        engine.answer("DELETE", f"{V}/networks/n1", status=204)
        driver = DockerDriver(tmp_path / "state", host=engine.host)
        driver.observe(None)  # all stacks
        before = len(engine.requests)
        driver.remove("shop-a")
        assert paths(engine, before) == [f"DELETE {V}/containers/ida"]
        before = len(engine.requests)
        driver.remove("shop-b")
        assert paths(engine, before) == [f"DELETE {V}/containers/idb",
                                         f"DELETE {V}/networks/n1",
                                         f"GET {V}/networks/reconcile-shop"]
