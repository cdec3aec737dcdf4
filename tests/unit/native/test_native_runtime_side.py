"""Pure parts of the native driver's runtime side: records, log files, parsers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.drivers.native.container import monitor
from reconciler.drivers.native.container.cgroups import Cgroups
from reconciler.drivers.native.container.logs import read_logs
from reconciler.drivers.native.container.observe import read_facts, to_observed
from reconciler.drivers.native.container.prepare import resolve_mounts
from reconciler.drivers.native.container.rootfs import overlay_options
from reconciler.drivers.native.container.runtime import _runc_message
from reconciler.drivers.native.container.state import (
    ContainerPaths,
    ContainerRecord,
    decode,
    load_record,
    read_record,
)
from reconciler.drivers.native.container.volumes import VolumeStore
from reconciler.model import records
from reconciler.model.desired import (
    BuildSpec,
    ContainerSpec,
    Dependency,
    Healthcheck,
    ImageSource,
    Limits,
    Mount,
    PortMapping,
    Ulimit,
)  # fmt: skip
from reconciler.model.errors import DriverError
from reconciler.model.hashing import config_hash, hashed_fields
from reconciler.model.labels import ownership_labels
from reconciler.support import atomic

BASE = ImageSource(key="base", kind="oci", identity="id-base", path="/img")
IMAGE = ImageSource(key="app", kind="build", identity="id-app", base=BASE,
                    build=BuildSpec(base="base", env=(("A", "1"),), cmd=("run",)))  # fmt: skip


def make_spec(**fields: object) -> ContainerSpec:
    spec = ContainerSpec(stack="s", key="web", name="s-web", replica=1, image=IMAGE, **fields)  # type: ignore[arg-type]
    return records.replace(spec, config_hash=config_hash(spec))


def test_record_round_trips_the_full_spec(tmp_path: Path) -> None:
    spec = make_spec(
        ports=(PortMapping(8080, 80),), mounts=(Mount("tmpfs", "/tmp", size=5),),
        limits=Limits(memory=5, cpus=0.5, ulimits=(Ulimit("nofile", 1, 2),)),
        healthcheck=Healthcheck("exec", exec=("true",)), depends_on=(Dependency("db"),),
        env=(("K", "V"),), stop_grace_period=3,
    )  # fmt: skip
    paths = ContainerPaths(tmp_path)
    record = ContainerRecord(spec, hashed_fields(spec), ownership_labels(spec, "sha256:d"),
                             "sha256:d", 1.5)  # fmt: skip
    atomic.write_json(paths.record, record.to_json())
    loaded = load_record(paths)
    assert loaded == record
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]  # no temp file left


def test_damaged_record_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text("{half")
    assert load_record(ContainerPaths(tmp_path)) is None
    assert decode(int, None) is None


def test_record_head_gives_the_cheap_fields_without_decoding(tmp_path: Path) -> None:
    spec = make_spec(ports=(PortMapping(8080, 80),), mounts=(Mount("volume", "/d", source="v"),),
                     network="private")  # fmt: skip
    paths = ContainerPaths(tmp_path)
    record = ContainerRecord(spec, hashed_fields(spec), ownership_labels(spec, "sha256:d"),
                             "sha256:d", 1.5)  # fmt: skip
    atomic.write_json(paths.record, record.to_json())
    head = read_record(paths)
    assert head is not None and head.decode() == record
    assert (head.stack, head.network, head.image_digest, head.created_at) == (
        "s", "private", "sha256:d", 1.5)  # fmt: skip
    assert head.ports() == spec.ports and head.mounts() == spec.mounts
    assert head.hashed_fields == hashed_fields(spec)


def test_record_with_a_damaged_spec_keeps_its_labels(tmp_path: Path) -> None:
    """observe still sees (and the planner can replace) it; only the decode fails."""
    spec = make_spec()
    data = ContainerRecord(spec, {}, ownership_labels(spec, "d"), "d", 1.0).to_json()
    data["spec"]["ports"] = "not a list"
    del data["spec"]["image"]
    paths = ContainerPaths(tmp_path)
    atomic.write_json(paths.record, data)
    head = read_record(paths)
    assert head is not None and head.labels == ownership_labels(spec, "d")
    assert head.ports() == ()
    assert load_record(paths) is None
    atomic.write_json(paths.record, {"labels": ["not", "a", "dict"]})
    assert read_record(paths) is None


def test_monitor_log_rotates_and_splits_lines(tmp_path: Path) -> None:
    live = tmp_path / "container.log"
    log = monitor.RotatingLog(str(live), max_bytes=200, max_files=3)
    r, w = os.pipe()
    pump = monitor.Pump(r, "stdout", log)
    payload = b"".join(f"line {i}\n".encode() for i in range(30)) + b"partial"
    os.write(w, payload)
    os.close(w)
    while pump.read():
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "container.log", "container.log.1", "container.log.2"
    ]  # fmt: skip
    texts = [line.text for line in read_logs(live)]
    assert texts[-1] == "partial" and texts[-2] == "line 29"
    numbers = [int(t.split()[1]) for t in texts[:-1]]
    assert numbers == list(range(numbers[0], 30))
    assert [line.text for line in read_logs(live, tail=2)] == ["line 29", "partial"]


def test_logs_since_filters_by_time(tmp_path: Path) -> None:
    live = tmp_path / "container.log"
    live.write_text(
        "".join(json.dumps({"t": t, "s": "stdout", "l": str(t)}) + "\n" for t in (1, 2, 3))
        + '{"t": 4, "s": "std'  # torn last line: skipped
    )
    assert [line.text for line in read_logs(live, since=2)] == ["2", "3"]


def test_monitor_reads_oom_kill_counter(tmp_path: Path) -> None:
    control = tmp_path / "memory.oom_control"
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert monitor.oom_killed([str(control)]) is False
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert monitor.oom_killed([str(tmp_path / "missing"), str(control)]) is True


def test_runc_message_keeps_the_cause() -> None:
    stderr = 'time="x" level=error msg="container \\"a\\" does not exist"\n'
    assert _runc_message(stderr) == 'container \\"a\\" does not exist'
    assert _runc_message("plain failure\n") == "plain failure"


def test_cgroup_hierarchies_from_mountinfo(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    cg = Cgroups("ab12cd34", str(mountinfo))
    assert not cg.is_v2
    cpuacct = Path("/sys/fs/cgroup/cpu,cpuacct/reconcile/ab12cd34-x")
    assert cg.controller_dir("cpuacct", "x") == cpuacct
    assert cg.oom_files("x") == ["/sys/fs/cgroup/memory/reconcile/ab12cd34-x/memory.oom_control"]
    mountinfo.write_text("32 25 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    v2 = Cgroups("ab12cd34", str(mountinfo))
    assert v2.is_v2 and v2.oom_files("x") == ["/sys/fs/cgroup/reconcile/ab12cd34-x/memory.events"]


def test_overlay_lists_layers_top_first() -> None:
    options = overlay_options([Path("/l/bottom"), Path("/l/top")], Path("/u"), Path("/w"))
    assert options == "lowerdir=/l/top:/l/bottom,upperdir=/u,workdir=/w"


def test_missing_bind_source_names_container_and_field(tmp_path: Path) -> None:
    spec = make_spec(mounts=(Mount("bind", "/x", source=str(tmp_path / "nope")),))
    with pytest.raises(DriverError, match=r"s-web: mounts\[0\] \(target /x\)"):
        resolve_mounts(spec, VolumeStore(tmp_path / "volumes"))
    ok = make_spec(mounts=(Mount("volume", "/d", source="data"),))
    resolved = resolve_mounts(ok, VolumeStore(tmp_path / "volumes"))
    assert resolved[0].source == str(tmp_path / "volumes" / "s-data")


def test_observe_reports_recorded_exit_without_runc(tmp_path: Path) -> None:
    spec = make_spec()
    paths = ContainerPaths(tmp_path / "s-web")
    paths.root.mkdir()
    record = ContainerRecord(spec, hashed_fields(spec), ownership_labels(spec, "sha256:d"),
                             "sha256:d", 1.0)  # fmt: skip
    atomic.write_json(paths.record, record.to_json())
    atomic.write_json(paths.exit, {"exit_code": 3, "oom_killed": True, "finished_at": 2.0})
    facts = read_facts(paths, None, lambda _name: False)
    assert facts is not None and facts.state == "exited"
    seen = to_observed("s-web", facts, None, False)
    assert (seen.state, seen.exit_code, seen.oom_killed, seen.finished_at) == (
        "exited", 3, True, 2.0)  # fmt: skip
    assert read_facts(paths, frozenset({"other"}), lambda _name: False) is None


def test_observe_without_any_record_of_life_is_dead(tmp_path: Path) -> None:
    spec = make_spec()
    paths = ContainerPaths(tmp_path / "s-web")
    paths.root.mkdir()
    record = ContainerRecord(spec, {}, ownership_labels(spec, "d"), "d", 1.0)
    atomic.write_json(paths.record, record.to_json())
    facts = read_facts(paths, None, lambda _name: False)
    assert facts is not None and facts.state is None  # undecided: runc is asked
    assert to_observed("s-web", facts, None, False).state == "dead"
    assert to_observed("s-web", facts, None, True).state == "exited"
