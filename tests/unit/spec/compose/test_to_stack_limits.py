"""Compose resources, replicas, restart policies and networks onto the stack."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.unit.spec.compose.mapping_helpers import mapped, messages, service

IMAGE = "image: busybox\n"


def test_top_level_limits(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + "mem_limit: 256m\nmemswap_limit: 512m\ncpus: 0.5\n"
                       "cpu_shares: 512\ncpuset: '0'\npids_limit: 100\nscale: 2\n"
                       "ulimits: {nofile: {soft: 1024, hard: 4096}, nproc: 512}\n")
    assert messages(out) == []
    assert got["limits"] == {"memory": "256m", "memory_swap": "512m", "cpus": 0.5,
                             "cpu_shares": 512, "cpuset": "0", "pids": 100,
                             "ulimits": {"nofile": {"soft": 1024, "hard": 4096}, "nproc": 512}}
    assert got["replicas"] == 2


def test_deploy(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + textwrap.dedent("""\
        deploy:
          mode: replicated
          replicas: 3
          resources:
            limits: {cpus: '1.5', memory: 1G, pids: 50}
            reservations: {cpus: '0.1'}
          restart_policy: {condition: on-failure, max_attempts: 4, delay: 5s}
          update_config: {order: start-first, parallelism: 2}
          placement: {constraints: [node.role==manager]}
        """))
    assert got["replicas"] == 3
    assert got["limits"] == {"cpus": 1.5, "memory": "1G", "pids": 50}
    assert got["restart"] == "on-failure:4"
    assert got["update"] == {"order": "start-first"}
    assert [m.split(" is not")[0] for m in messages(out)] == [
        "9:9 warning compose key `deploy.resources.reservations`",
        "10:64 warning compose key `deploy.restart_policy.delay`",
        "11:43 warning compose key `deploy.update_config.parallelism`",
        "12:7 warning compose key `deploy.placement`",
    ]


def test_unlimited_pids_and_restart_any(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + "pids_limit: -1\ndeploy: {restart_policy: {}}\n")
    assert "limits" not in got and got["restart"] == "always"
    got, out = service(tmp_path, IMAGE + "restart: always\ndeploy: {restart_policy: "
                       "{condition: none}}\n")
    assert got["restart"] == "always"
    assert "`restart` is set and wins" in out.warnings[0].message


def test_the_same_limit_twice_must_agree(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + "cpus: 0.5\ndeploy: {resources: {limits: "
                       "{cpus: '0.5'}}}\n")
    assert messages(out) == [] and got["limits"] == {"cpus": 0.5}
    _, out = service(tmp_path, IMAGE + "mem_limit: 1g\ndeploy: {resources: {limits: "
                     "{memory: 2g}}}\n")
    assert messages(out) == ["5:43 error service `web`: `memory` and another key set "
                             "`memory` to different values; keep one"]


def test_networks_that_every_two_services_share_become_the_stack_network(
        tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          web: {image: x, networks: [front, back]}
          api: {image: x, networks: {back: {aliases: [api2]}, front: }}
        networks:
          front: {driver: bridge}
          back:
            ipam: {config: [{subnet: 10.89.5.0/24}]}
        """)
    assert out.errors == []
    assert out.data["networks"] == {"default": {"subnet": "10.89.5.0/24"}}
    assert [m.split(" is not")[0] for m in messages(out)] == [
        "4:37 warning compose key `networks.back.aliases`"]


def test_services_that_share_no_network_cannot_be_expressed(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          proxy: {image: x, networks: [front, back]}
          web: {image: x, networks: [front]}
          db: {image: x, networks: [back]}
        networks: {front: , back: }
        """)
    assert messages(out) == [
        "4:19 error services `db` and `web` share no Compose network, but reconcile puts a "
        "stack's containers on one network where they would reach each other; put them on "
        "a common network or split the project"]


def test_network_modes_and_unexpressible_options(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          a: {image: x, network_mode: host}
          b: {image: x, network_mode: "service:a"}
          c: {image: x, networks: {n: {ipv4_address: 10.0.0.5}}}
          d: {image: x, networks: [n, m]}
        networks:
          n: {internal: true}
          m: {ipam: {config: [{subnet: 10.1.0.0/24}, {subnet: 10.2.0.0/24}]}}
        """)
    assert out.data["containers"]["a"]["network"] == "host"
    assert [m.split(" cannot")[0].split(" can be")[0] for m in messages(out)] == [
        "4:31 error service `b`: `network_mode: service:a`",
        "5:32 error service `c`: network option `ipv4_address`",
        "8:7 error a network with `internal: true`",
        "9:55 error a stack has one network: at most one subnet"]
