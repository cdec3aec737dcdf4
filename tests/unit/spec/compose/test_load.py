"""Loading a Compose project: include, extends, profiles, the project name, the variables,
extension keys, the default files, and bad input located by file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.spec.compose.discover import (
    find_compose_files,
    looks_like_compose,
    normalize_project_name,
)
from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions
from reconciler.spec.loader import load_file
from tests.unit.spec.compose.helpers import errors, load, warnings, write


def test_include_short_and_long_forms_relative_to_the_including_project(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "include:\n  - lib/db.yaml\n  - path: [other/a.yaml, other/b.yaml]\n"
                        "    env_file: other/vars.env\nservices:\n  web: {image: web}\n",
        "lib/db.yaml": "services:\n  db: {image: '${DB}', volumes: ['./pg:/pg']}\n"
                       "volumes: {shared: {}}\n",
        "lib/.env": "DB=postgres\n",
        "other/a.yaml": "services:\n  a: {image: '${AIMG}'}\n",
        "other/b.yaml": "services:\n  a: {user: nobody}\n",
        "other/vars.env": "AIMG=alpine\n"})
    assert errors(project) == []
    services = project.data["services"]
    assert services["db"] == {"image": "postgres", "volumes": [f"{tmp_path}/lib/pg:/pg"]}
    assert services["a"] == {"image": "alpine", "user": "nobody"}
    assert project.data["volumes"] == {"shared": {}}
    image = project.origin(("services", "db", "image"))
    assert (Path(image.file).name, image.line) == ("db.yaml", 2)
    assert [str(p.relative_to(tmp_path)) for p in project.inputs] == [
        "compose.yaml", "lib/.env", "lib/db.yaml", "other/vars.env", "other/a.yaml",
        "other/b.yaml"]


def test_include_conflicts_and_cycles_are_located_errors(tmp_path: Path) -> None:
    conflict = load(tmp_path / "c", {
        "compose.yaml": "include: [lib.yaml]\nservices:\n  web: {image: mine}\n",
        "lib.yaml": "services:\n  web: {image: theirs}\n"})
    assert errors(conflict) == ["compose.yaml:3:3: services.web is also defined, differently, "
                                "by the included lib.yaml"]
    cycle = load(tmp_path / "y", {"compose.yaml": "include: [a.yaml]\n",
                                  "a.yaml": "include: [b.yaml]\n",
                                  "b.yaml": "include: [compose.yaml]\n"})
    assert errors(cycle) == [
        "b.yaml:1:11: include cycle: compose.yaml -> a.yaml -> b.yaml -> compose.yaml"]


def test_extends_same_file_other_file_and_chains_keep_origins(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": """services:
  base: {image: busybox, environment: {A: "1"}, ports: ["80:80"]}
  mid: {extends: base, environment: {B: "2"}}
  web:
    extends: mid
    ports: ["81:81"]
  remote:
    extends: {file: lib/common.yaml, service: app}
""",
        "lib/common.yaml": "services:\n  app: {image: app, volumes: ['./data:/data']}\n"})
    assert errors(project) == []
    services = project.data["services"]
    assert services["web"] == {"image": "busybox", "environment": {"A": "1", "B": "2"},
                               "ports": ["80:80", "81:81"]}
    assert services["remote"] == {"image": "app", "volumes": [f"{tmp_path}/lib/data:/data"]}
    image = project.origin(("services", "web", "image"))
    assert (Path(image.file).name, image.line, image.column) == ("compose.yaml", 2, 17)
    volume = project.origin(("services", "remote", "volumes", 0))
    assert (Path(volume.file).name, volume.line) == ("common.yaml", 2)
    assert [p.name for p in project.inputs] == ["compose.yaml", "common.yaml"]


def test_an_extends_cycle_is_refused_with_the_cycle_named(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": "services:\n  a: {image: x, extends: b}\n"
                                              "  b: {extends: a}\n"})
    assert errors(project) == ["compose.yaml:2:26: extends cycle: a (compose.yaml) -> "
                               "b (compose.yaml) -> a (compose.yaml)"]
    unknown = load(tmp_path / "u", {"compose.yaml": "services:\n  a: {extends: nope}\n"})
    assert errors(unknown) == ["compose.yaml:2:16: service `a` extends `nope`, which is "
                               "not defined"]


PROFILED = """services:
  web: {image: x}
  debug: {image: y, profiles: [debug]}
  tools: {image: z, profiles: [tools, debug]}
"""


@pytest.mark.parametrize(("options", "enabled"), [
    ({}, ["web"]),
    ({"profiles": ("debug",)}, ["web", "debug", "tools"]),
    ({"profiles": ("tools",)}, ["web", "tools"]),
    ({"profiles": ("*",)}, ["web", "debug", "tools"]),
    ({"environ": {"COMPOSE_PROFILES": " tools ,"}}, ["web", "tools"]),
    ({"environ": {"COMPOSE_PROFILES": "debug"}, "profiles": ("tools",)}, ["web", "tools"]),
    # named on the command line: its profiles are selected (Compose's WithServicesEnabled)
    ({"services": ("tools",)}, ["web", "debug", "tools"]),
])
def test_profiles_enable_services(tmp_path: Path, options: dict[str, object],
                                  enabled: list[str]) -> None:
    project = load(tmp_path, {"compose.yaml": PROFILED}, **options)
    assert list(project.data["services"]) == enabled


def test_a_required_dependency_on_a_disabled_service_is_an_error(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n"
                              "    depends_on: [db]\n  db: {image: y, profiles: [db]}\n"})
    assert errors(project) == ["compose.yaml:4:18: service `web` depends on `db`, which is "
                               "only enabled by the profile(s) db: select one with --profile "
                               "(or set `required: false`)"]


@pytest.mark.parametrize(("folder", "text", "options", "name"), [
    ("My Project", "services: {}\n", {}, "myproject"),
    ("p", "name: Shop_2\nservices: {}\n", {}, "shop_2"),
    ("p", "name: ${N}\nservices: {}\n", {"environ": {"N": "fromvar"}}, "fromvar"),
    ("p", "name: file\nservices: {}\n", {"environ": {"COMPOSE_PROJECT_NAME": "env"}}, "env"),
    ("p", "name: file\nservices: {}\n", {"project_name": "cli",
                                         "environ": {"COMPOSE_PROJECT_NAME": "env"}}, "cli"),
])
def test_the_project_name_follows_composes_order(tmp_path: Path, folder: str, text: str,
                                                 options: dict[str, object], name: str) -> None:
    project = load(tmp_path / folder, {"compose.yaml": text}, **options)
    assert errors(project) == []
    assert (project.name, project.data["name"]) == (name, name)


def test_an_invalid_explicit_project_name_is_an_error(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": "services: {}\n"}, project_name="Bad!")
    assert [p.message for p in project.problems] == [
        "invalid project name 'Bad!': use only lowercase letters, digits, `-` and `_`, "
        "starting with a letter or a digit"]
    assert normalize_project_name("-_Ab.C d-1") == "abcd-1"


def test_variables_env_over_dotenv_and_env_files_in_order(tmp_path: Path) -> None:
    files = {"compose.yaml": "services:\n  web: {image: '${A}-${B}-${C}'}\n",
             ".env": "A=dot\nB=dot\nC=dot\n", "one.env": "A=one\nB=one\n", "two.env": "B=two\n"}
    assert load(tmp_path, files, environ={"C": "env"}).data["services"]["web"]["image"] == \
        "dot-dot-env"
    chosen = load(tmp_path, files, environ={"C": "env"},
                  env_files=(tmp_path / "one.env", tmp_path / "two.env"))
    assert chosen.data["services"]["web"]["image"] == "one-two-env"
    assert chosen.environment["B"] == "two"
    assert [p.name for p in chosen.inputs] == ["one.env", "two.env", "compose.yaml"]
    ignored = load(tmp_path, files, environ={"C": "env", "COMPOSE_DISABLE_ENV_FILE": "1"})
    assert ignored.data["services"]["web"]["image"] == "--env"


def test_extension_keys_and_version_are_dropped_with_a_warning_for_version(
        tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": """version: "3"
x-base: &base {image: x}
services:
  web:
    <<: *base
    x-note: 1
    labels: {x-real: "1"}
    deploy: {x-tuning: 1, replicas: 2}
networks:
  x-net: {x-meta: 1}
"""})
    assert project.data == {"name": project.name, "services": {"web": {
        "image": "x", "labels": {"x-real": "1"}, "deploy": {"replicas": 2}}},
        "networks": {"x-net": {}}}
    assert warnings(project) == ["compose.yaml:1:1: `version` is obsolete; it is ignored"]


def test_unset_variables_warn_at_their_value(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x${TAG}\n"})
    assert warnings(project) == ["compose.yaml:3:12: `services.web.image`: variable TAG is "
                                 "not set; it defaults to an empty string"]
    assert project.data["services"]["web"]["image"] == "x"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "compose.yaml:0:0: file is empty; expected a mapping with `services`"),
    ("- a\n", "compose.yaml:1:1: a Compose file must be a mapping (with `services`)"),
    ("services: [web]\n", "compose.yaml:1:11: `services` must be a mapping of service names "
                          "to services"),
    ("services:\n  web: x\n", "compose.yaml:2:8: service `web` must be a mapping"),
    ("services:\n  'a b': {image: x}\n", "compose.yaml:2:3: invalid service name 'a b': use "
                                         "letters, digits, `.`, `_` and `-`"),
    ("services:\n  web: {image: !custom x}\n",
     "compose.yaml:2:16: unsupported YAML tag `!custom`"),
    ("services:\n  web: {image: x}\n  web: {image: y}\n",
     "compose.yaml:3:3: duplicate key `web` (first defined at line 2)"),
    ("services:\n  web: {image: '${X:?say why}'}\n",
     "compose.yaml:2:16: `services.web.image`: required variable X is missing a value: say why"),
    ("include: [nope.yaml]\n", "compose.yaml:1:11: included file `nope.yaml` does not exist"),
])
def test_bad_input_is_located(tmp_path: Path, text: str, problem: str) -> None:
    project = load(tmp_path, {"compose.yaml": text})
    assert errors(project) == [problem]


def test_the_stack_loader_still_refuses_composes_tags(tmp_path: Path) -> None:
    write(tmp_path, {"s.yaml": "version: 1\ncontainers: !reset {}\nx: !override 1\n"})
    assert [p.message for p in load_file(tmp_path / "s.yaml").problems] == [
        "unsupported YAML tag `!override`"]
    loaded = load_file(tmp_path / "s.yaml", accepted_tags=frozenset({"!reset", "!override"}))
    assert loaded.problems == []
    assert loaded.tags == {("containers",): "!reset", ("x",): "!override"}
    assert loaded.data["x"] == 1


def test_the_default_files_are_found_as_compose_finds_them(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yml": "", "docker-compose.yaml": "",
                     "docker-compose.override.yml": "", "sub/deeper/.keep": ""})
    files, warning = find_compose_files(tmp_path / "sub" / "deeper", {})
    assert files == [tmp_path / "compose.yml", tmp_path / "docker-compose.override.yml"]
    assert warning is not None and "using compose.yml" in warning
    listed = find_compose_files(tmp_path, {"COMPOSE_FILE": "a.yaml;b.yaml",
                                           "COMPOSE_PATH_SEPARATOR": ";"})
    assert listed == ([tmp_path / "a.yaml", tmp_path / "b.yaml"], None)
    assert find_compose_files(tmp_path / "sub", {"COMPOSE_FILE": ""})[0][0] == \
        tmp_path / "compose.yml"


def test_a_compose_file_is_told_from_a_stack_file(tmp_path: Path) -> None:
    write(tmp_path, {"docker-compose.yml": "", "app.yaml": "# app\nname: x\nservices:\n  a: {}\n",
                     "stack.yaml": "version: 1\ncontainers:\n  services: {}\n",
                     "both.yaml": "services: {}\ncontainers: {}\n"})
    assert [looks_like_compose(tmp_path / n) for n in (
        "docker-compose.yml", "app.yaml", "stack.yaml", "both.yaml", "absent.yaml")] == [
        True, True, False, False, False]


@pytest.mark.parametrize("text", [
    "include: ['${S}/c.yaml']\n",
    "services:\n  a: {image: x, extends: '${S}'}\n",
    "services:\n  a: {image: x, extends: {file: '${S}.yaml', service: b}}\n",
    "services:\n  a: {image: x, read_only: '${S}'}\n",
    "services:\n  a: {image: '${S}${', ports: ['${S}'], command: '${N:?not ${S}}'}\n",
])
def test_no_message_carries_a_variables_value(tmp_path: Path, text: str) -> None:
    environ = {"S": "hunter2-secret", "COMPOSE_PROJECT_NAME": "Hunter2-Secret!"}
    project = load(tmp_path, {"compose.yaml": text}, environ=environ)
    assert project.problems
    assert not any("hunter2" in p.message.lower() for p in project.problems)


def test_a_base_file_is_read_once_however_many_services_extend_it(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "services:\n" + "".join(
            f"  s{i}: {{extends: {{file: base.yaml, service: b}}}}\n" for i in range(3)),
        "base.yaml": "services:\n  b: {image: 'x${UNSET}'}\n"})
    assert [p.name for p in project.inputs] == ["compose.yaml", "base.yaml"]
    assert warnings(project) == ["base.yaml:2:14: `services.b.image`: variable UNSET is not "
                                 "set; it defaults to an empty string"]
    assert {s["image"] for s in project.data["services"].values()} == {"x"}


def test_files_given_relative_are_named_so_and_cycles_through_them_are_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"compose.yaml": "include: [a.yaml]\nservices:\n  m: {image: '${NOPE}'}\n",
                     "a.yaml": "include: [compose.yaml]\n",
                     "c.yaml": "services:\n  a: {extends: {file: b.yaml, service: b}}\n",
                     "b.yaml": "services:\n  b: {extends: {file: c.yaml, service: a}}\n"})
    monkeypatch.chdir(tmp_path)
    included = load_compose([Path("compose.yaml")], ComposeOptions(environ={}))
    assert [str(p) for p in included.problems] == [
        "compose.yaml:3:14: warning: `services.m.image`: variable NOPE is not set; it "
        "defaults to an empty string",
        f"{tmp_path}/a.yaml:1:11: include cycle: compose.yaml -> a.yaml -> compose.yaml"]
    assert included.project_dir == tmp_path
    extended = load_compose([Path("c.yaml")], ComposeOptions(environ={}))
    assert [p.message for p in extended.problems] == [
        "extends cycle: a (c.yaml) -> b (b.yaml) -> a (c.yaml)"]
