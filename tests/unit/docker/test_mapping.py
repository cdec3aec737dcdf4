"""ContainerSpec -> Engine API, and the engine's JSON -> ObservedContainer, without an
engine: what the docker driver sends and what it reads back."""

from __future__ import annotations

import json
from typing import Any

from reconciler.drivers.docker import mapping
from reconciler.model import labels as labelkeys
from reconciler.model import records
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
    spec = records.replace(spec, **changes)
    return records.replace(spec, config_hash=config_hash(spec))


def test_every_field_reaches_the_create_call() -> None:
    spec = full_spec()
    labels = mapping.container_labels(spec, DIGEST, spec.healthcheck)
    body = mapping.create_body(spec, "sha256:id", labels)
    assert body["Image"] == "sha256:id"
    assert body["Cmd"] == ["httpd", "-f"] and body["Entrypoint"] == ["/bin/sh", "-c"]
    assert body["Env"] == ["TZ=UTC"] and body["User"] == "101:101"
    assert body["Hostname"] == "shop-web" and body["WorkingDir"] == "/srv"
    assert body["MacAddress"] == "02:42:ac:11:00:02" and body["StopSignal"] == "SIGQUIT"
    assert body["StopTimeout"] == 3  # 2.5 s rounded up: the engine counts whole seconds
    assert body["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000,
                                   "Timeout": 2_000_000_000, "Retries": 4, "StartPeriod": 0}
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"reconcile-shop": {
        "Aliases": ["web"]}}}
    assert body["Labels"] == labels
    assert labels[labelkeys.STACK] == "shop" and labels[labelkeys.IMAGE_DIGEST] == DIGEST
    assert json.loads(labels[mapping.SPEC_LABEL]) == json.loads(json.dumps(hashed_fields(spec)))


def test_the_host_config_carries_limits_mounts_ports_and_no_engine_restarts() -> None:
    host = mapping.host_config(full_spec())
    assert host["NetworkMode"] == "reconcile-shop"
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                    "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}
    assert host["Memory"] == 256 << 20 and host["MemorySwap"] == 512 << 20
    assert host["NanoCpus"] == 500_000_000 and host["CpuShares"] == 512
    assert host["CpusetCpus"] == "0" and host["PidsLimit"] == 200
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 4096}]
    assert [(m["Type"], m["Source"], m["Target"], m["ReadOnly"]) for m in host["Mounts"]] == [
        ("bind", "/srv/html", "/html", True), ("volume", "shop-data", "/data", False),
        ("tmpfs", None, "/tmp", False)]
    assert host["Mounts"][2]["TmpfsOptions"] == {"SizeBytes": 1 << 20}
    assert host["RestartPolicy"] == {"Name": "no"}  # the loop owns restarts
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["ReadonlyRootfs"] is True and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Dns"] == ["10.0.0.2"]


def test_a_spec_without_options_sends_no_empty_ones() -> None:
    spec = full_spec(command=None, entrypoint=None, ports=(), mounts=(), user=None,
                     workdir=None, mac_address=None, dns=(), cap_add=(), cap_drop=(),
                     read_only=False, security_opt=(), network="none", healthcheck=None,
                     limits=Limits())
    body = mapping.create_body(spec, "i", {})
    assert set(body) == {"Image", "Env", "Hostname", "Labels", "StopSignal", "StopTimeout",
                         "HostConfig"}
    assert body["HostConfig"] == {"NetworkMode": "none", "RestartPolicy": {"Name": "no"}}


def test_a_tcp_check_is_reconciles_and_switches_the_images_off() -> None:
    spec = full_spec(healthcheck=Healthcheck("tcp", port=80))
    assert mapping.engine_healthcheck(spec) == {"test": ["NONE"]}
    assert mapping.create_body(spec, "i", {})["Healthcheck"] == {"Test": ["NONE"]}
    assert mapping.engine_healthcheck(full_spec(healthcheck=None)) is None
    assert mapping.host_config(full_spec(network="host"))["NetworkMode"] == "host"
    assert "Hostname" not in mapping.create_body(full_spec(network="host"), "i", {})
    assert "NetworkingConfig" not in mapping.create_body(full_spec(network="host"), "i", {})


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
