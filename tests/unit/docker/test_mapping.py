"""ContainerSpec -> Engine API, and the engine's JSON -> ObservedContainer, without an
engine: what the docker driver sends and what it reads back."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from reconciler.drivers.docker import mapping
from reconciler.model import labels as labelkeys
from reconciler.model.desired import (
    ContainerSpec,
    Healthcheck,
    ImageSource,
    Limits,
    Mount,
    PortMapping,
    RestartPolicy,
    Ulimit,
)
from reconciler.model.hashing import config_hash, hashed_fields

IMAGE = ImageSource(key="base", kind="oci", identity="oci:abc", path="/images/base")
DIGEST = "sha256:" + "d" * 64


def full_spec(**changes: Any) -> ContainerSpec:
    spec = ContainerSpec(
        stack="shop", key="web", name="shop-web", replica=1, image=IMAGE, source="/s.yaml",
        command=("httpd", "-f"), entrypoint=("/bin/sh", "-c"), env=(("TZ", "UTC"),),
        ports=(PortMapping(8080, 80), PortMapping(5353, 53, "udp", "127.0.0.1")),
        mounts=(Mount("bind", "/html", "/srv/html", read_only=True),
                Mount("volume", "/data", "data"), Mount("tmpfs", "/tmp", size=1 << 20)),
        limits=Limits(memory=256 << 20, memory_swap=512 << 20, cpus=0.5, cpu_shares=512,
                      cpuset="0", pids=200, ulimits=(Ulimit("nofile", 1024, 4096),)),
        restart=RestartPolicy("on-failure", 3), user="101:101", workdir="/srv",
        hostname="", cap_add=("NET_ADMIN",), cap_drop=("MKNOD",), read_only=True,
        security_opt=("no-new-privileges",), stop_signal="SIGQUIT", stop_grace_period=2.5,
        mac_address="02:42:ac:11:00:02", dns=("10.0.0.2",),
        healthcheck=Healthcheck("exec", exec=("true",), interval=5, timeout=2, retries=4),
    )  # fmt: skip
    spec = dataclasses.replace(spec, **changes)
    return dataclasses.replace(spec, config_hash=config_hash(spec))


def test_every_field_reaches_the_create_call() -> None:
    spec = full_spec()
    labels = mapping.container_labels(spec, DIGEST, spec.healthcheck)
    args = mapping.create_args(spec, "sha256:id", labels)
    assert args["command"] == ["httpd", "-f"] and args["entrypoint"] == ["/bin/sh", "-c"]
    assert args["environment"] == ["TZ=UTC"] and args["user"] == "101:101"
    assert args["hostname"] == "shop-web" and args["working_dir"] == "/srv"
    assert args["mac_address"] == "02:42:ac:11:00:02" and args["stop_signal"] == "SIGQUIT"
    assert args["stop_timeout"] == 3 and args["use_config_proxy"] is False
    assert args["healthcheck"] == {"test": ["CMD", "true"], "interval": 5_000_000_000,
                                   "timeout": 2_000_000_000, "retries": 4, "start_period": 0}
    assert sorted(args["ports"]) == [(53, "udp"), (80, "tcp")]
    assert labels[labelkeys.STACK] == "shop" and labels[labelkeys.IMAGE_DIGEST] == DIGEST
    assert json.loads(labels[mapping.SPEC_LABEL]) == json.loads(json.dumps(hashed_fields(spec)))


def test_the_host_config_carries_limits_mounts_ports_and_no_engine_restarts() -> None:
    host = mapping.host_config_args(full_spec())
    assert host["network_mode"] == "reconcile-shop"
    assert host["port_bindings"] == {"80/tcp": [8080], "53/udp": [("127.0.0.1", 5353)]}
    assert host["mem_limit"] == 256 << 20 and host["memswap_limit"] == 512 << 20
    assert host["nano_cpus"] == 500_000_000 and host["cpu_shares"] == 512
    assert host["cpuset_cpus"] == "0" and host["pids_limit"] == 200
    assert host["ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 4096}]
    assert [(m["Type"], m["Source"], m["Target"], m["ReadOnly"]) for m in host["mounts"]] == [
        ("bind", "/srv/html", "/html", True), ("volume", "shop-data", "/data", False),
        ("tmpfs", None, "/tmp", False)]
    assert host["mounts"][2]["TmpfsOptions"] == {"SizeBytes": 1 << 20}
    assert host["restart_policy"] == {"Name": "no"}  # the loop owns restarts
    assert host["cap_add"] == ["NET_ADMIN"] and host["read_only"] is True


def test_a_tcp_check_is_reconciles_and_switches_the_images_off() -> None:
    spec = full_spec(healthcheck=Healthcheck("tcp", port=80))
    assert mapping.engine_healthcheck(spec) == {"test": ["NONE"]}
    assert mapping.engine_healthcheck(full_spec(healthcheck=None)) is None
    assert mapping.host_config_args(full_spec(network="host"))["network_mode"] == "host"
    assert "hostname" not in mapping.create_args(full_spec(network="host"), "i", {})


def test_engine_times() -> None:
    assert mapping.parse_time("0001-01-01T00:00:00Z") is None
    assert mapping.parse_time("1970-01-01T00:00:01.5Z") == 1.5
    assert mapping.parse_time("1970-01-01T00:00:02.123456789Z") == 2.123456
    assert mapping.parse_time("1970-01-01T01:00:00+01:00") == 0.0
    assert mapping.parse_time("1970-01-01T00:00:03Z") == 3.0


def inspect_json(spec: ContainerSpec, **state: Any) -> dict[str, Any]:
    labels = mapping.container_labels(spec, DIGEST, spec.healthcheck)
    return {
        "Id": "c" * 64, "Name": "/shop-web", "Created": "1970-01-01T00:00:10Z",
        "Config": {"Labels": labels}, "RestartCount": 0,
        "State": {"Status": "running", "Paused": False, "Pid": 42, "ExitCode": 0,
                  "OOMKilled": False, "StartedAt": "1970-01-01T00:00:11Z",
                  "FinishedAt": "0001-01-01T00:00:00Z", **state},
        "NetworkSettings": {"Networks": {"reconcile-shop": {"IPAddress": "172.18.0.2"}}},
    }


def test_observed_gives_back_what_the_native_driver_records() -> None:
    spec = full_spec()
    seen = mapping.to_observed(inspect_json(spec), earlier_starts=2)
    assert (seen.name, seen.stack, seen.key, seen.state, seen.pid) == (
        "shop-web", "shop", "web", "running", 42)
    assert seen.recorded_spec == json.loads(json.dumps(hashed_fields(spec)))
    assert seen.labels == labelkeys.ownership_labels(spec, DIGEST)
    assert seen.config_hash == spec.config_hash and seen.image_digest == DIGEST
    assert seen.healthcheck == spec.healthcheck and seen.restart_count == 2
    assert seen.addresses == ("172.18.0.2",) and seen.started_at == 11.0


def test_exited_and_paused_states() -> None:
    spec = full_spec()
    dead = mapping.to_observed(inspect_json(spec, Status="exited", ExitCode=137, Pid=0,
                                            OOMKilled=True,
                                            FinishedAt="1970-01-01T00:00:12Z"), 0)
    assert (dead.state, dead.exit_code, dead.oom_killed, dead.pid, dead.finished_at) == (
        "exited", 137, True, None, 12.0)
    paused = mapping.to_observed(inspect_json(spec, Paused=True), 0)
    assert paused.state == "paused" and paused.exit_code is None
