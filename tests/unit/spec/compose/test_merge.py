"""Merging `-f` files by Compose's rules, per kind of key, with `!reset` and `!override`,
and the origin of every merged value."""

from __future__ import annotations

from pathlib import Path

from tests.unit.spec.compose.helpers import errors, load

BASE = """services:
  web:
    image: nginx:1
    command: [a, b]
    entrypoint: /init
    environment: {A: "1", B: "2"}
    labels: [one=1]
    ports: ["8080:80", "53:53/udp"]
    expose: ["9000"]
    volumes: ["./a:/a", "./b:/b"]
    secrets: [s1]
    dns: 1.1.1.1
    cap_add: [NET_ADMIN]
    depends_on: [db]
    networks: [front]
    healthcheck: {test: [CMD, ok], interval: 5s}
    logging: {driver: json-file, options: {max-size: 1m}}
    deploy: {resources: {limits: {memory: 64M, cpus: "0.5"}}}
    ulimits: {nofile: {soft: 10, hard: 20}}
  db: {image: postgres}
"""


def _merged(tmp_path: Path, override: str) -> dict[str, object]:
    project = load(tmp_path, {"compose.yaml": BASE, "o.yaml": override},
                   "compose.yaml", "o.yaml")
    assert errors(project) == []
    web: dict[str, object] = project.data["services"]["web"]
    return web


def test_mappings_merge_and_scalars_are_replaced(tmp_path: Path) -> None:
    web = _merged(tmp_path, "services:\n  web:\n    image: nginx:2\n    deploy: {resources: "
                  "{limits: {memory: 128M}}}\n    healthcheck: {retries: 3}\n")
    assert web["image"] == "nginx:2"
    assert web["deploy"] == {"resources": {"limits": {"memory": "128M", "cpus": "0.5"}}}
    assert web["healthcheck"] == {"test": ["CMD", "ok"], "interval": "5s", "retries": 3}


def test_command_entrypoint_and_healthcheck_test_are_replaced(tmp_path: Path) -> None:
    web = _merged(tmp_path, "services:\n  web:\n    command: [c]\n    entrypoint: [/x]\n"
                  "    healthcheck: {test: [CMD-SHELL, other]}\n")
    assert (web["command"], web["entrypoint"]) == (["c"], ["/x"])
    assert web["healthcheck"] == {"test": ["CMD-SHELL", "other"], "interval": "5s"}


def test_key_value_kinds_merge_by_key_across_list_and_map_forms(tmp_path: Path) -> None:
    web = _merged(tmp_path, "services:\n  web:\n    environment: [B=3, C=4]\n"
                  "    labels: {two: 2, one: changed}\n")
    assert web["environment"] == ["A=1", "B=3", "C=4"]  # a mapping becomes KEY=VALUE
    assert web["labels"] == ["one=changed", "two=2"]
    both_maps = _merged(tmp_path, "services:\n  web:\n    environment: {B: '3', A: null}\n")
    assert both_maps["environment"] == {"A": None, "B": "3"}


def test_sequences_append_unique_by_their_key(tmp_path: Path) -> None:
    web = _merged(tmp_path, """services:
  web:
    ports: [{target: 80, published: "8080"}, "9090:90"]
    expose: [9000, "9001"]
    volumes: [{type: bind, source: ./c, target: /b}, ./d:/d]
    secrets: [{source: s2, target: s1}, {source: s3, target: /run/secrets/s1}]
    dns: [1.1.1.1, 9.9.9.9]
    cap_add: [NET_ADMIN, SYS_TIME]
""")
    assert web["ports"] == [{"target": 80, "published": "8080"}, "53:53/udp", "9090:90"]
    assert web["expose"] == [9000, "9001"]  # `9000` and "9000" are one port
    folder = str(tmp_path)
    assert web["volumes"] == [f"{folder}/a:/a", {"type": "bind", "source": f"{folder}/c",
                                                  "target": "/b"}, f"{folder}/d:/d"]
    # `s1` is mounted at /run/secrets/s1; a relative target is its own key, as in Compose
    assert web["secrets"] == [{"source": "s3", "target": "/run/secrets/s1"},
                              {"source": "s2", "target": "s1"}]
    assert web["dns"] == ["1.1.1.1", "9.9.9.9"]
    assert web["cap_add"] == ["NET_ADMIN", "SYS_TIME"]


def test_depends_on_networks_build_logging_and_ulimits(tmp_path: Path) -> None:
    web = _merged(tmp_path, """services:
  web:
    depends_on: {cache: {condition: service_healthy}}
    networks: {back: {aliases: [w]}}
    logging: {driver: syslog}
    ulimits: {nofile: 99}
    build: ./app
""")
    assert web["depends_on"] == {
        "db": {"condition": "service_started", "required": True},
        "cache": {"condition": "service_healthy"}}
    assert web["networks"] == {"front": None, "back": {"aliases": ["w"]}}
    assert web["logging"] == {"driver": "syslog"}  # another driver: its options are gone
    assert web["ulimits"] == {"nofile": 99}
    same_driver = _merged(tmp_path, "services:\n  web:\n    logging: {options: {max-file: '3'}}\n")
    assert same_driver["logging"] == {"driver": "json-file",
                                      "options": {"max-size": "1m", "max-file": "3"}}


def test_reset_removes_and_override_replaces(tmp_path: Path) -> None:
    web = _merged(tmp_path, """services:
  web:
    ports: !reset []
    command: !reset null
    environment: !override {C: "3"}
    volumes: !override ["./only:/only"]
    deploy: {resources: !reset {}}
""")
    assert "ports" not in web and "command" not in web and "deploy" in web
    assert web["deploy"] == {}
    assert web["environment"] == {"C": "3"}
    assert web["volumes"] == [f"{tmp_path}/only:/only"]


def test_merged_values_keep_the_origin_they_were_written_at(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": BASE, "o.yaml": (
        "services:\n  web:\n    image: nginx:2\n    environment: [C=4]\n"
        "    ports: ['9090:90']\n")}, "compose.yaml", "o.yaml")
    origin = project.origin
    assert origin(("services", "web", "image")).file.endswith("o.yaml")
    assert (origin(("services", "web", "image")).line, origin(("services", "web", "image")).column
            ) == (3, 12)
    command = origin(("services", "web", "command"))
    assert (Path(command.file).name, command.line) == ("compose.yaml", 4)
    env = [origin(("services", "web", "environment", i)) for i in range(3)]
    assert [(Path(o.file).name, o.line) for o in env] == [
        ("compose.yaml", 6), ("compose.yaml", 6), ("o.yaml", 4)]
    ports = [origin(("services", "web", "ports", i)) for i in range(3)]
    assert [(Path(o.file).name, o.line) for o in ports] == [
        ("compose.yaml", 8), ("compose.yaml", 8), ("o.yaml", 5)]
    key = project.origin(("services", "web", "image"), at_key=True)
    assert (Path(key.file).name, key.line, key.column) == ("o.yaml", 3, 5)


def test_incompatible_forms_are_a_located_error(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": BASE,
                              "o.yaml": "services:\n  web:\n    ports: {a: 1}\n"},
                   "compose.yaml", "o.yaml")
    assert errors(project) == ["o.yaml:3:12: cannot merge `services.web.ports`: it is a list "
                               "in what this merges onto; give a list here too (or `!override` "
                               "to replace it)"]
    assert project.data == {}


def test_a_reset_reached_through_an_anchor_merge_applies_where_it_lands(tmp_path: Path) -> None:
    web = _merged(tmp_path, "x-reset: &r\n  ports: !reset []\nservices:\n  web:\n    <<: *r\n")
    assert "ports" not in web  # Compose 2.40 keeps them: docs/compose.md
