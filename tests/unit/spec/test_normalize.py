"""Normalization: short forms expanded, defaults filled, paths resolved, replicas named."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model.desired import (
    Backoff,
    ContainerSpec,
    Dependency,
    DesiredStack,
    Mount,
    PortMapping,
    RestartPolicy,
    Ulimit,
)
from reconciler.model.hashing import config_hash
from reconciler.spec import units
from reconciler.spec.stacks import load_stacks


def load_one(tmp_path: Path, body: str, file_name: str = "app.yaml") -> DesiredStack:
    path = tmp_path / file_name
    path.write_text("version: 1\n" + body)
    (stack,) = load_stacks([path]).stacks
    return stack


def container(tmp_path: Path, fields: str, key: str = "web") -> ContainerSpec:
    stack = load_one(tmp_path, f"containers:\n  {key}:\n    image: app:1\n{fields}")
    return next(c for c in stack.containers if c.key == key)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("256Mi", 256 << 20),
        ("1g", 1 << 30),
        ("512m", 512 << 20),
        ("1GiB", 1 << 30),
        ("1.5k", 1536),
        ("100b", 100),
        (4096, 4096),
        ("64", 64),
    ],
)
def test_sizes_are_bytes_1024_based(given: str | int, expected: int) -> None:
    assert units.parse_size(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("100ms", 0.1), ("1m30s", 90.0), ("10s", 10.0), ("1h", 3600.0), (5, 5.0), (1.5, 1.5)],
)
def test_durations_are_seconds(given: str | float, expected: float) -> None:
    assert units.parse_duration(given) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["1i", "ten", "-1m", ""])
def test_bad_sizes_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        units.parse_size(bad)


def test_ports_expand_ranges_and_forms(tmp_path: Path) -> None:
    spec = container(
        tmp_path,
        "    ports:\n"
        "      - '8000-8001:80-81'\n"
        "      - '127.0.0.1:9090:9090/tcp'\n"
        "      - '5353:53/udp'\n"
        "      - '0.0.0.0:7000:70'\n"
        "      - '[::1]:6000:60'\n"
        "      - {host: 5000, container: 50, protocol: udp, host_ip: 10.0.0.1}\n",
    )
    assert spec.ports == (
        PortMapping(8000, 80),
        PortMapping(8001, 81),
        PortMapping(9090, 9090, "tcp", "127.0.0.1"),
        PortMapping(5353, 53, "udp"),
        PortMapping(7000, 70),
        PortMapping(6000, 60, "tcp", "::1"),
        PortMapping(5000, 50, "udp", "10.0.0.1"),
    )


def test_mounts_bind_named_and_tmpfs(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    (tmp_path / "app.conf").write_text("x=1\n")
    stack = load_one(
        tmp_path,
        "volumes: {data: }\n"
        "containers:\n  web:\n    image: app:1\n    volumes:\n"
        "      - ./html:/www:ro\n"
        "      - data:/var/lib/web\n"
        "      - {type: tmpfs, target: /tmp, size: 64Mi}\n"
        "      - {type: bind, source: app.conf, target: /etc/app.conf}\n",
    )
    mounts = stack.containers[0].mounts
    assert mounts[0] == Mount("bind", "/www", str(tmp_path / "html"), True)
    assert mounts[1] == Mount("volume", "/var/lib/web", "data")
    assert mounts[2] == Mount("tmpfs", "/tmp", "", False, 64 << 20)
    assert mounts[3].source == str(tmp_path / "app.conf")
    assert mounts[3].content_hash.startswith("sha256:")
    assert [v.full_name for v in stack.volumes] == ["app-data"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("'no'", RestartPolicy("no")),
        ("no", RestartPolicy("no")),
        ("always", RestartPolicy("always")),
        ("unless-stopped", RestartPolicy("unless-stopped")),
        ("on-failure", RestartPolicy("on-failure")),
        ("on-failure:3", RestartPolicy("on-failure", 3)),
        (
            "{policy: always, backoff: {initial: 100ms, max: 30s}}",
            RestartPolicy("always", None, Backoff(0.1, 30.0, 2.0, 10.0)),
        ),
        (
            "{policy: on-failure, max_retries: 2, backoff: {factor: 3, reset_after: 1m}}",
            RestartPolicy("on-failure", 2, Backoff(0.1, 60.0, 3.0, 60.0)),
        ),
    ],
)
def test_restart_forms(tmp_path: Path, given: str, expected: RestartPolicy) -> None:
    assert container(tmp_path, f"    restart: {given}\n").restart == expected


def test_env_file_first_then_env_overrides_sorted(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text('# comment\n\nB=from-file\n  A="quoted"\nC=x=y\n')
    (tmp_path / "b.env").write_text("B=second-file\n")
    spec = container(tmp_path, "    env_file: [a.env, b.env]\n    env: {B: env, D: 1, E: true}\n")
    assert spec.env == (("A", '"quoted"'), ("B", "env"), ("C", "x=y"), ("D", "1"), ("E", "true"))
    assert spec.env_file_hash.startswith("sha256:")


def test_env_list_form(tmp_path: Path) -> None:
    assert container(tmp_path, "    env: ['X=1', 'Y=a=b']\n").env == (("X", "1"), ("Y", "a=b"))


def test_defaults(tmp_path: Path) -> None:
    spec = container(tmp_path, "    healthcheck: {tcp: {port: 80}}\n")
    assert spec.restart == RestartPolicy("no", None, Backoff(0.1, 60.0, 2.0, 10.0))
    hc = spec.healthcheck
    assert hc is not None and (hc.kind, hc.port, hc.interval, hc.timeout) == ("tcp", 80, 30, 30)
    assert (hc.retries, hc.start_period, hc.on_unhealthy) == (3, 0.0, "none")
    # unset: the image's StopSignal at stop time, else SIGTERM (drivers/images/defaults.py)
    assert (spec.stop_signal, spec.stop_grace_period) == (None, 10.0)
    assert (spec.hostname, spec.network, spec.read_only) == ("web", "private", False)
    assert spec.command is None and spec.entrypoint is None
    assert spec.source == str(tmp_path / "app.yaml")


def test_replicas_are_named_and_zero_gives_none(tmp_path: Path) -> None:
    stack = load_one(
        tmp_path,
        "containers:\n  w: {image: app:1, replicas: 3}\n  off: {image: app:1, replicas: 0}\n",
    )
    assert [(c.name, c.replica) for c in stack.containers] == [
        ("app-w", 1),
        ("app-w-2", 2),
        ("app-w-3", 3),
    ]
    assert len({c.config_hash for c in stack.containers}) == 1
    assert all(c.config_hash == config_hash(c) != "" for c in stack.containers)


def test_compose_names_number_every_replica_and_keep_one_hash(tmp_path: Path) -> None:
    """`container_names: compose` (a Compose file's stack): replica 1 is `-1` too, with
    the same fields and hash as an unnumbered one (the name is not hashed)."""
    body = "containers:\n  w: {image: app:1, replicas: 3, env: {A: b}}\n  one: {image: app:1}\n"
    plain = load_one(tmp_path, body)
    numbered = load_one(tmp_path, "container_names: compose\n" + body)
    assert [(c.name, c.replica) for c in numbered.containers] == [
        ("app-one-1", 1), ("app-w-1", 1), ("app-w-2", 2), ("app-w-3", 3)]
    assert [c.config_hash for c in numbered.containers] == [
        c.config_hash for c in plain.containers]
    assert all(c.config_hash == config_hash(c) != "" for c in numbered.containers)
    renamed = [(c.name.removesuffix("-1"), c.replica) for c in numbered.containers]
    assert renamed == [("app-one", 1), ("app-w", 1), ("app-w-2", 2), ("app-w-3", 3)]


def test_stack_name_from_name_or_file(tmp_path: Path) -> None:
    assert load_one(tmp_path, "containers: {}\n", "my-stack.yml").name == "my-stack"
    assert load_one(tmp_path, "name: shop\ncontainers: {}\n").name == "shop"


def test_bare_reference_becomes_a_ref_image(tmp_path: Path) -> None:
    image = container(tmp_path, "").image
    assert (image.key, image.kind, image.ref) == ("app:1", "ref", "docker.io/library/app:1")
    assert image.identity == "ref:docker.io/library/app:1"


def test_command_string_runs_through_sh_and_signals_normalize(tmp_path: Path) -> None:
    spec = container(tmp_path, "    command: echo hi && sleep 1\n    stop_signal: INT\n")
    assert spec.command == ("/bin/sh", "-c", "echo hi && sleep 1")
    assert spec.stop_signal == "SIGINT"
    assert units.parse_signal(9) == "SIGKILL"
    assert units.parse_signal("SIGRTMIN+3") == "SIGRTMIN+3"


def test_limits_and_dependencies(tmp_path: Path) -> None:
    stack = load_one(
        tmp_path,
        "containers:\n"
        "  db: {image: app:1, healthcheck: {tcp: {port: 5432}}}\n"
        "  cache: {image: app:1}\n"
        "  web:\n    image: app:1\n    depends_on: {db: healthy, cache: {condition: started}}\n"
        "    limits: {memory: 256Mi, memory_swap: 1g, cpus: 1, cpuset: 0, pids: 9,\n"
        "             ulimits: {nproc: 10, nofile: [1024, 4096], core: {soft: 0, hard: 0}}}\n",
    )
    web = next(c for c in stack.containers if c.key == "web")
    assert web.depends_on == (Dependency("cache", "started"), Dependency("db", "healthy"))
    lim = web.limits
    assert (lim.memory, lim.memory_swap, lim.cpus, lim.cpuset, lim.pids) == (
        256 << 20,
        1 << 30,
        1.0,
        "0",
        9,
    )
    assert lim.ulimits == (
        Ulimit("core", 0, 0),
        Ulimit("nofile", 1024, 4096),
        Ulimit("nproc", 10, 10),
    )


def test_config_hash_is_filled(tmp_path: Path) -> None:
    spec = container(tmp_path, "")
    assert spec.config_hash == config_hash(spec) and spec.config_hash.startswith("sha256:")


def test_images_oci_archive_and_build(tmp_path: Path) -> None:
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "index.json").write_text("{}")
    (tmp_path / "img.tar").write_bytes(b"tar")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run").write_text("#!/bin/sh\n")
    stack = load_one(
        tmp_path,
        "images:\n"
        "  base: {oci: ./layout}\n"
        "  tarred: {archive: img.tar}\n"
        "  remote: {ref: 'registry.local:5000/acme/web:1.4', pull: always}\n"
        "  app: {build: {from: base, copy: [{src: ./app, dest: /app}], cmd: /app/run}}\n"
        "containers: {web: {image: app}}\n",
    )
    images = {i.key: i for i in stack.images}
    assert images["base"].identity.startswith("oci:sha256:")
    assert images["base"].path == str(tmp_path / "layout")
    assert images["tarred"].identity.startswith("archive:sha256:")
    assert images["remote"].identity == "ref:registry.local:5000/acme/web:1.4"
    assert images["remote"].pull == "always"
    app = images["app"]
    assert app.identity.startswith("build:sha256:") and app.base == images["base"]
    assert app.build is not None and app.build.cmd == ("/bin/sh", "-c", "/app/run")
    assert app.build.copy[0].src == str(tmp_path / "app")
    assert stack.containers[0].image == app


def test_init_defaults_to_false_and_is_kept_when_set(tmp_path: Path) -> None:
    assert container(tmp_path, "").init is False
    assert container(tmp_path, "    init: true\n").init is True
    assert container(tmp_path, "    init: false\n").init is False
