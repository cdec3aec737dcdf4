"""Compose ports, volumes, tmpfs, secrets and configs onto the stack's long forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.spec.compose.mapping_helpers import mapped, messages, service

IMAGE = "image: busybox\n"

PORTS: list[tuple[str, list[dict[str, Any]]]] = [
    ("'8080:80'", [{"host": 8080, "container": 80}]),
    ("8080:80", [{"host": 8080, "container": 80}]),
    ("'127.0.0.1:8080:80'", [{"host": 8080, "container": 80, "host_ip": "127.0.0.1"}]),
    ("'53:53/udp'", [{"host": 53, "container": 53, "protocol": "udp"}]),
    ("'[::1]:8080:80/tcp'", [{"host": 8080, "container": 80, "host_ip": "::1"}]),
    ("'9000-9001:8000-8001'", [{"host": 9000, "container": 8000},
                               {"host": 9001, "container": 8001}]),
    ("{target: 80, published: 8080}", [{"host": 8080, "container": 80}]),
    ("{target: 80, published: '8080', host_ip: 127.0.0.1, protocol: udp, mode: host}",
     [{"host": 8080, "container": 80, "protocol": "udp", "host_ip": "127.0.0.1"}]),
    ("{target: 80, published: 8080-8081}", None),  # a host range for one port: error
]


@pytest.mark.parametrize(("entry", "want"), PORTS, ids=[p[0] for p in PORTS])
def test_port_forms(tmp_path: Path, entry: str, want: list[dict[str, Any]] | None) -> None:
    got, out = service(tmp_path, IMAGE + f"ports:\n  - {entry}\n")
    if want is None:
        assert [(p.line, p.column) for p in out.errors] == [(5, 9)]
        return
    assert messages(out) == []
    assert got["ports"] == want


@pytest.mark.parametrize("entry", ["'80'", "'127.0.0.1::80'", "{target: 80}", "'80-81'"])
def test_random_host_port_is_a_located_warning(tmp_path: Path, entry: str) -> None:
    got, out = service(tmp_path, IMAGE + f"ports:\n  - {entry}\n")
    assert got["ports"] == []
    assert [(p.line, p.column, p.severity) for p in out.warnings] == [(5, 9, "warning")]
    assert "random host port" in out.warnings[0].message


def test_bad_ports_are_located_errors(tmp_path: Path) -> None:
    _, out = service(tmp_path, IMAGE + "ports: ['80:80/sctp', 'a:b', '80-82:80-81']\n")
    assert [(p.line, p.column) for p in out.errors] == [(4, 13), (4, 27), (4, 34)]


def test_port_name_and_app_protocol_are_warned(tmp_path: Path) -> None:
    _, out = service(tmp_path, IMAGE + "ports:\n  - {target: 80, published: 80, name: web, "
                     "app_protocol: http}\n")
    assert [m.split(" is not")[0] for m in messages(out)] == [
        "5:48 warning compose key `ports[0].app_protocol`",
        "5:37 warning compose key `ports[0].name`"]


def test_volume_forms(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          web:
            image: busybox
            volumes:
              - ./html:/srv:ro
              - data:/data
              - /cache
              - ~/x:/x:rw
              - type: bind
                source: ./conf
                target: /conf
                read_only: true
                bind: {create_host_path: true}
              - {type: volume, source: data, target: /d2, volume: {nocopy: true}}
              - {type: tmpfs, target: /tmp, tmpfs: {size: 64m}}
              - {type: volume, target: /anon}
            tmpfs: ['/run:size=1m', /run2]
        volumes:
          data:
        """)
    assert messages(out) == ["15:60 warning compose key `volumes[5].volume.nocopy` is not "
                             "supported by reconcile; ignored"]
    home = str(Path("~").expanduser())
    assert out.data["containers"]["web"]["volumes"] == [
        {"type": "bind", "source": f"{tmp_path}/html", "target": "/srv", "read_only": True},
        {"type": "volume", "source": "data", "target": "/data"},
        {"type": "volume", "source": "web-anon-1", "target": "/cache"},
        {"type": "bind", "source": f"{home}/x", "target": "/x"},
        {"type": "bind", "source": f"{tmp_path}/conf", "target": "/conf", "read_only": True},
        {"type": "volume", "source": "data", "target": "/d2"},
        {"type": "tmpfs", "target": "/tmp", "size": "64m"},
        {"type": "volume", "source": "web-anon-2", "target": "/anon"},
        {"type": "tmpfs", "target": "/run", "size": "1m"},
        {"type": "tmpfs", "target": "/run2"},
    ]


def test_volume_problems_are_located(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          web:
            image: busybox
            volumes:
              - undeclared:/data
              - ./x:/x:z
              - {type: npipe, source: a, target: /b}
              - {type: bind, source: ., target: /c, bind: {propagation: rshared}}
        volumes:
          ext: {external: true}
          opt: {driver: local}
        """)
    assert [m.split(";")[0] for m in messages(out)] == [
        "11:9 error an external volume cannot be expressed: reconcile creates and owns its "
        "volumes (this one: proj-ext)",
        "6:9 error service `web`: volume `undeclared` is not declared under the top-level "
        "`volumes:`",
        "8:16 error service `web`: volume type `npipe` is not supported",
        "12:9 warning compose key `volumes.opt.driver` is not supported by reconcile",
        "7:9 warning service `web`: volume mode `z` is not supported by reconcile",
        "9:52 warning compose key `volumes[3].bind.propagation` is not supported by reconcile",
    ]


def test_secrets_and_configs_from_files(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          web:
            image: busybox
            secrets: [token, {source: key, target: app.key, mode: '0400'}]
            configs: [conf, {source: conf, target: /etc/app.conf}]
        secrets:
          token: {file: ./token.txt}
          key: {file: ./key.pem}
        configs:
          conf: {file: ./app.conf}
        """)
    web = out.data["containers"]["web"]
    assert messages(out) == []
    assert web["secrets"] == [
        {"source": f"{tmp_path}/token.txt", "target": "/run/secrets/token",
         "encrypted": "none"},
        {"source": f"{tmp_path}/key.pem", "target": "/run/secrets/app.key", "encrypted": "none",
         "mode": 0o400},
    ]
    assert web["volumes"] == [
        {"type": "bind", "source": f"{tmp_path}/app.conf", "target": "/conf",
         "read_only": True},
        {"type": "bind", "source": f"{tmp_path}/app.conf", "target": "/etc/app.conf",
         "read_only": True},
    ]


def test_secret_not_from_a_file_is_a_located_error(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        services:
          web: {image: busybox, secrets: [env, nope]}
        secrets:
          env: {environment: TOKEN}
        """)
    assert [m.split(": ")[0] for m in messages(out)] == ["5:9 error secret `env`",
                                                        "3:40 error service `web`"]


def test_long_port_without_target_is_an_error(tmp_path: Path) -> None:
    _, out = service(tmp_path, IMAGE + "ports:\n  - {published: 8080}\n")
    assert [(p.line, p.column) for p in out.errors] == [(5, 9)]
