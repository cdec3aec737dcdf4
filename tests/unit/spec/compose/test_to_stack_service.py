"""Each Compose service key onto its stack field (the simple ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.spec.compose.mapping_helpers import mapped, messages, service

IMAGE = "image: busybox\n"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("image without a tag is :latest", "", {"image": "busybox:latest"}),
    ("command string is split like a shell", "command: sh -c 'echo hi; sleep 1'",
     {"command": ["sh", "-c", "echo hi; sleep 1"]}),
    ("command list", "command: [echo, hi]", {"command": ["echo", "hi"]}),
    ("entrypoint string", "entrypoint: /bin/run --fast", {"entrypoint": ["/bin/run", "--fast"]}),
    ("entrypoint list", "entrypoint: [/bin/run]", {"entrypoint": ["/bin/run"]}),
    ("environment map; a variable without value is unset",
     "environment: {A: '1', B: 2, C: }", {"env": {"A": "1", "B": 2}}),
    ("environment list; NAME alone is unset", "environment: [A=1, B==x, C]",
     {"env": {"A": "1", "B": "=x"}}),
    ("labels map", "labels: {a: b}", {"labels": {"a": "b"}}),
    ("labels list", "labels: [a=b, c]", {"labels": {"a": "b", "c": ""}}),
    ("dns string", "dns: 10.0.0.2", {"dns": ["10.0.0.2"]}),
    ("dns list", "dns: [10.0.0.2, 10.0.0.3]", {"dns": ["10.0.0.2", "10.0.0.3"]}),
    ("depends_on list", "depends_on: [db]", {"depends_on": {"db": "started"}}),
    ("depends_on long", "depends_on:\n  db: {condition: service_healthy}\n"
     "  job: {condition: service_completed_successfully}\n  c: {condition: service_started}",
     {"depends_on": {"db": "healthy", "job": "completed", "c": "started"}}),
    ("healthcheck CMD", "healthcheck: {test: [CMD, pg_isready, -q], interval: 1m30s, "
     "timeout: 5s, retries: 4, start_period: 2s}",
     {"healthcheck": {"exec": ["pg_isready", "-q"], "interval": "1m30s", "timeout": "5s",
                      "retries": 4, "start_period": "2s"}}),
    ("healthcheck CMD-SHELL", "healthcheck: {test: [CMD-SHELL, 'curl -f x || exit 1']}",
     {"healthcheck": {"exec": ["/bin/sh", "-c", "curl -f x || exit 1"]}}),
    ("healthcheck string", "healthcheck: {test: curl -f x}",
     {"healthcheck": {"exec": ["/bin/sh", "-c", "curl -f x"]}}),
    ("restart", "restart: unless-stopped", {"restart": "unless-stopped"}),
    ("restart no", "restart: 'no'", {"restart": "no"}),
    ("the same fields", "user: '101:101'\nworking_dir: /app\nhostname: web1\n"
     "mac_address: '02:42:ac:11:00:02'\nstop_signal: SIGINT\nstop_grace_period: 1m\n"
     "read_only: true\ncap_add: [NET_ADMIN]\ncap_drop: [ALL]\nsecurity_opt: [no-new-privileges]",
     {"user": "101:101", "workdir": "/app", "hostname": "web1",
      "mac_address": "02:42:ac:11:00:02", "stop_signal": "SIGINT", "stop_grace_period": "1m",
      "read_only": True, "cap_add": ["NET_ADMIN"], "cap_drop": ["ALL"],
      "security_opt": ["no-new-privileges"]}),
    ("init", "init: true", {"init": True}),
]


@pytest.mark.parametrize(("body", "want"), [(b, w) for _, b, w in CASES],
                         ids=[c[0] for c in CASES])
def test_service_key_maps_onto_its_stack_field(tmp_path: Path, body: str,
                                               want: dict[str, Any]) -> None:
    got, out = service(tmp_path, IMAGE + body)
    assert messages(out) == []
    assert {k: got[k] for k in want} == want
    assert got["image"] == "busybox:latest"


def test_image_references_keep_their_tag_or_digest(tmp_path: Path) -> None:
    for ref in ("busybox:1.36", "127.0.0.1:5000/a/b", "a/b@sha256:" + "0" * 64):
        got, _ = service(tmp_path, f"image: '{ref}'\n")
        assert got["image"] == (ref if ref != "127.0.0.1:5000/a/b" else ref + ":latest")


def test_pull_policy_makes_an_image_entry(tmp_path: Path) -> None:
    got, out = service(tmp_path, "image: busybox:1\npull_policy: always\n")
    assert got["image"] == "web"
    assert out.data["images"] == {"web": {"ref": "busybox:1", "pull": "always"}}
    got, out = service(tmp_path, "image: busybox:1\npull_policy: if_not_present\n")
    assert got["image"] == "busybox:1" and "images" not in out.data


def test_build_maps_onto_a_dockerfile_image(tmp_path: Path) -> None:
    got, out = service(tmp_path, "build: ./app\n")
    context = str(tmp_path / "app")
    assert got["image"] == "web" and not out.errors
    assert out.data["images"] == {"web": {"dockerfile": f"{context}/Dockerfile",
                                          "context": context}}
    got, out = service(tmp_path, "image: acme/web:1\npull_policy: build\nbuild:\n"
                       "  context: .\n  dockerfile: docker/Dockerfile.prod\n"
                       "  args: {A: '1', B: two, FROM_ENV: }\n  target: prod\n"
                       "  network: host\n  cache_from: [x]\n")
    assert got["image"] == "web" and not out.errors
    assert out.data["images"]["web"] == {
        "dockerfile": f"{tmp_path}/docker/Dockerfile.prod", "context": str(tmp_path),
        "args": {"A": "1", "B": "two"}, "target": "prod", "network": True}
    warned = messages(out)
    assert any("cache_from" in m for m in warned)
    assert any("`image: acme/web:1` is not set as a tag" in m for m in warned)
    _, out = service(tmp_path, "build: {context: ., args: [A=1, B]}\n")
    assert out.data["images"]["web"]["args"] == {"A": "1"}


def test_pull_policy_build_needs_a_build(tmp_path: Path) -> None:
    _, out = service(tmp_path, "image: x\npull_policy: build\n")
    assert "`pull_policy: build` needs a `build:` section" in out.errors[0].message


def test_service_without_image_is_an_error(tmp_path: Path) -> None:
    _, out = service(tmp_path, "command: [x]\n")
    assert "needs `image:` or `build:`" in out.errors[0].message


def test_disabled_healthcheck_is_a_warning_and_declares_none(tmp_path: Path) -> None:
    for body in ("healthcheck: {disable: true}", "healthcheck: {test: [NONE]}"):
        got, out = service(tmp_path, IMAGE + body)
        assert "healthcheck" not in got
        assert [p.severity for p in out.warnings] == ["warning"]


def test_bad_healthcheck_test_is_a_located_error(tmp_path: Path) -> None:
    _, out = service(tmp_path, IMAGE + "healthcheck: {test: [RUN, x]}")
    assert messages(out) == ["4:25 error service `web`: `healthcheck.test` must be "
                             "[\"CMD\", ...], [\"CMD-SHELL\", \"command\"], [\"NONE\"] or a "
                             "command string"]


def test_unbalanced_quote_in_command_is_an_error(tmp_path: Path) -> None:
    _, out = service(tmp_path, IMAGE + "command: echo 'hi")
    assert "cannot be split into words" in out.errors[0].message


def test_env_file_forms(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    compose = {"path": f"{tmp_path}/a.env", "format": "compose"}
    got, out = service(tmp_path, IMAGE + "env_file: a.env")
    assert got["env_file"] == [compose]
    got, out = service(tmp_path, IMAGE + "env_file:\n  - a.env\n  - path: gone.env\n"
                       "    required: false\n  - path: s.env.age\n")
    assert got["env_file"] == [compose, {"path": f"{tmp_path}/s.env.age", "format": "compose",
                                         "encrypted": "none"}]
    assert messages(out) == []
    got, out = service(tmp_path, IMAGE + "env_file: [{path: a.env, format: raw}]")
    assert (got["env_file"], messages(out)) == ([{**compose, "format": "docker"}], [])
    _, out = service(tmp_path, IMAGE + "env_file: [{path: a.env, format: dotenv}]")
    assert messages(out) == ["4:38 error service `web`: env_file `format` must be `raw` or "
                             "left out (Compose's own dotenv format)"]


def test_env_file_entries_carry_the_project_variables_their_files_read(tmp_path: Path) -> None:
    """Only the variables the file looks up, with the value Compose would use: the project's
    over the service's environment over the file's own lines; a single-quoted `${}` and a
    comment read nothing."""
    (tmp_path / ".env").write_text("TAG=dot\nUNUSED=x\nOWN=project\n")
    (tmp_path / "a.env").write_text("# ${COMMENTED}\nA=${TAG}\nB='${QUOTED}'\n"
                                    "OWN=file\nC=${OWN}\nD=${SVC}\nHOME_DIR\n")
    got, _ = service(tmp_path, IMAGE + "environment: {SVC: s}\nenv_file: a.env")
    assert got["env_file"] == [{"path": f"{tmp_path}/a.env", "format": "compose",
                                "variables": {"OWN": "project", "TAG": "dot"}}]


def test_depends_on_restart_and_optional_are_warned(tmp_path: Path) -> None:
    out = mapped(tmp_path, """\
        services:
          db: {image: busybox}
          web:
            image: busybox
            depends_on:
              db: {condition: service_started, restart: true, required: false}
        """)
    assert out.data["containers"]["web"]["depends_on"] == {"db": "started"}
    assert [m.split(" is not")[0] for m in messages(out)] == [
        "6:40 warning compose key `depends_on.db.restart`",
        "6:55 warning compose key `depends_on.db.required`"]


UNSUPPORTED = ["privileged: true", "expose: ['80']", "container_name: x", "sysctls: {a: 1}",
               "extra_hosts: ['a:1.2.3.4']", "logging: {driver: none}", "shm_size: 64m",
               "devices: [/dev/fuse]", "stdin_open: true", "tty: true", "platform: linux/amd64",
               "links: [db]", "ipc: host", "pid: host", "cgroup_parent: x", "runtime: runc"]


@pytest.mark.parametrize("body", UNSUPPORTED)
def test_key_without_meaning_is_a_located_warning(tmp_path: Path, body: str) -> None:
    got, out = service(tmp_path, IMAGE + body)
    key = body.split(":")[0]
    assert out.errors == []
    assert [(p.line, p.column, p.severity) for p in out.warnings] == [(4, 5, "warning")]
    assert out.warnings[0].message.startswith(
        f"compose key `{key}` is not supported by reconcile; ignored")
    assert key not in got


def test_extension_and_profile_keys_pass_silently(tmp_path: Path) -> None:
    out = mapped(tmp_path, """
        x-common: &c {image: busybox}
        services:
          web:
            <<: *c
            x-note: hi
            profiles: [default]
        """)
    assert messages(out) == []


def test_unknown_top_level_key_is_a_located_warning(tmp_path: Path) -> None:
    out = mapped(tmp_path, "services: {web: {image: x}}\nversion: '3.8'\nmodels: {}\n")
    assert messages(out) == ["3:1 warning compose key `models` is not supported by "
                             "reconcile; ignored"]


def test_healthcheck_without_test_is_warned(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + "healthcheck: {interval: 5s}")
    assert "healthcheck" not in got
    assert [(p.line, p.severity) for p in out.warnings] == [(4, "warning")]


def test_optional_dependency_on_a_service_left_out_is_dropped(tmp_path: Path) -> None:
    got, out = service(tmp_path, IMAGE + "depends_on:\n  gone: {condition: service_started, "
                       "required: false}\n  db: {condition: service_healthy}")
    assert got["depends_on"] == {"db": "healthy"}
    assert messages(out) == []
