"""A Compose file through the whole stack pipeline: names, located problems from the stack
checks, warnings, --strict, `convert` and its round trip, detection of Compose files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.drivers.docker.known import clash as _clash
from reconciler.model.errors import SpecError
from reconciler.spec.compose.entry import ComposeRequest
from reconciler.spec.compose.project import ComposeOptions
from reconciler.spec.stacks import load_stacks
from tests.fakes import InMemoryDriver

ROOT = Path(__file__).resolve().parents[4]

COMPOSE = """\
name: shop
services:
  web:
    image: registry.local:5000/acme/web:1
    command: ["serve", "--port", "80"]
    environment: {TZ: UTC}
    ports: ["8080:80"]
    volumes: ["data:/data", "./html:/html:ro"]
    depends_on: {db: {condition: service_healthy}}
    privileged: true
  db:
    image: registry.local:5000/acme/db:1
    healthcheck: {test: [CMD, pg_isready], interval: 2s}
    deploy: {replicas: 2}
volumes:
  data:
"""


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "html").mkdir()
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], driver: InMemoryDriver, tmp_path: Path,
         *argv: str) -> tuple[int, str, str]:
    code = main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver)
    out, err = capsys.readouterr()
    return code, out, err


def test_names_agree_with_docker_compose(folder: Path) -> None:
    stack = load_stacks([folder / "compose.yaml"]).stacks[0]
    assert stack.name == "shop"
    assert [c.name for c in stack.containers] == ["shop-db-1", "shop-db-2", "shop-web-1"]
    assert [v.full_name for v in stack.volumes] == ["shop-data"]
    assert stack.source == str(folder / "compose.yaml")
    assert [(w.file, w.line, w.column) for w in stack.warnings] == [
        (str(folder / "compose.yaml"), 10, 5)]


def test_project_name_from_the_options_and_the_folder(folder: Path) -> None:
    request = ComposeRequest(options=ComposeOptions(project_name="other", environ={}))
    assert load_stacks([folder / "compose.yaml"], compose=request).stacks[0].name == "other"
    (folder / "compose.yaml").write_text(COMPOSE.replace("name: shop\n", ""))
    named = folder / "My_App"
    named.mkdir()
    (named / "compose.yaml").write_text(COMPOSE.replace("name: shop\n", ""))
    (named / "html").mkdir()
    request = ComposeRequest(options=ComposeOptions(environ={}))
    with pytest.raises(SpecError) as raised:  # Compose allows `_`, a stack name does not
        load_stacks([named / "compose.yaml"], compose=request)
    assert "my_app" in str(raised.value)


def test_stack_checks_name_the_compose_file_line_and_column(folder: Path) -> None:
    path = folder / "compose.yaml"
    path.write_text(COMPOSE.replace('ports: ["8080:80"]', 'ports: ["70000:80"]')
                    .replace("interval: 2s", "interval: soon"))
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    assert sorted((p.file, p.line, p.column) for p in raised.value.problems) == [
        (str(path), 7, 13), (str(path), 13, 54)]


def test_semantic_checks_run_on_compose_data(folder: Path) -> None:
    path = folder / "compose.yaml"
    path.write_text(COMPOSE.replace("depends_on: {db:", "depends_on: {nope:"))
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    problem = raised.value.problems[0]
    assert (problem.file, problem.line) == (str(path), 9)
    assert "nope" in problem.message


def test_any_yaml_with_services_is_compose(folder: Path) -> None:
    other = folder / "app.yml"
    other.write_text(COMPOSE)
    assert load_stacks([other]).stacks[0].containers[0].name == "shop-db-1"


def test_init_is_the_stack_init(folder: Path) -> None:
    path = folder / "compose.yaml"
    path.write_text(COMPOSE.replace("    privileged: true\n", "    init: true\n"))
    stack = load_stacks([path]).stacks[0]
    assert {c.key: c.init for c in stack.containers} == {"db": False, "web": True}
    assert stack.warnings == ()


def test_warnings_are_printed_and_strict_makes_them_errors(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    driver = InMemoryDriver()
    code, out, err = _run(capsys, driver, folder, "validate", str(folder / "compose.yaml"))
    assert code == 0 and "valid: shop (3 container(s))" in out
    assert "compose.yaml:10:5: warning: compose key `privileged` is not supported" in err
    code, out, err = _run(capsys, driver, folder, "plan", "--strict", "-f",
                          str(folder / "compose.yaml"))
    assert code == 3
    assert ("compose.yaml:10:5: compose key `privileged` is not supported by reconcile "
            "(grant capabilities one by one with `cap_add`) (an error under --strict)") in err
    assert driver.calls == []


def test_convert_output_validates_and_plans_identically(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    driver = InMemoryDriver()
    code, text, err = _run(capsys, driver, folder, "convert", str(folder / "compose.yaml"))
    assert code == 0 and "`privileged`" in err
    converted = folder / "stack.yaml"
    assert "source: ./html" in text  # paths inside the project stay relative
    converted.write_text(text)
    code, out, _ = _run(capsys, driver, folder, "validate", str(converted))
    assert (code, out) == (0, "valid: shop (3 container(s))\n")
    plans = [_run(capsys, driver, folder, "plan", str(p))[1]
             for p in (folder / "compose.yaml", converted)]
    assert "create shop-db-1" in plans[0]
    # the one difference: the Compose file's ignored key is warned (and is gone from stack.yaml)
    warned = [line for line in plans[0].splitlines() if line.startswith("⚠")]
    assert len(warned) == 1 and "compose.yaml:10:5" in warned[0]
    assert plans[0].replace(warned[0] + "\n", "") == plans[1]
    code, _, _ = _run(capsys, driver, folder, "apply", str(folder / "compose.yaml"))
    assert code == 0 and len(driver.containers) == 3
    for path in (folder / "compose.yaml", converted):  # same config hashes: nothing to do
        code, out, _ = _run(capsys, driver, folder, "plan", "--detailed-exitcode", str(path))
        assert code == 0, out


def test_convert_refuses_invalid_compose_input(capsys: pytest.CaptureFixture[str],
                                               folder: Path) -> None:
    path = folder / "compose.yaml"
    path.write_text(textwrap.dedent("""\
        services:
          web: {image: x, pull_policy: build}
        """))
    code, out, err = _run(capsys, InMemoryDriver(), folder, "convert", str(path))
    assert code == 3 and out == ""
    assert "compose.yaml:2:32: service `web`: `pull_policy: build` needs" in err, err


def test_a_compose_container_in_the_way_names_the_way_over() -> None:
    info = {"Id": "0123456789abcdef", "Config": {"Image": "nginx", "Labels": {
        "com.docker.compose.project": "shop"}}}
    message = str(_clash("shop-web-1", info))
    assert "Compose project 'shop'" in message
    assert "`docker compose -p shop down`, then `reconcile apply`" in message
    assert "rename or remove it" in str(_clash("x", {"Config": {"Labels": {}}}))


def test_cli_merges_f_files_with_project_name_profile_and_env_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          web: {image: "busybox:${TAG}", command: [sleep, "1"]}
          debug: {image: busybox, profiles: [debug]}
        """))
    (tmp_path / "override.yaml").write_text("services:\n  web: {command: [sleep, '2']}\n")
    (tmp_path / "vars.env").write_text("TAG=1.36\n")
    driver = InMemoryDriver()
    base = ["-f", str(tmp_path / "compose.yaml"), "-f", str(tmp_path / "override.yaml"),
            "-p", "demo", "--env-file", str(tmp_path / "vars.env")]
    code, text, err = _run(capsys, driver, tmp_path, "convert", *base)
    assert code == 0, err
    assert "name: demo" in text and "image: busybox:1.36" in text
    assert "- sleep\n    - '2'" in text and "debug" not in text
    code, text, err = _run(capsys, driver, tmp_path, "plan", *base, "--profile", "debug")
    assert code == 0, err
    assert "create demo-debug-1" in text and "create demo-web-1" in text


def test_the_loop_reads_a_compose_file_like_a_stack_file(folder: Path) -> None:
    from reconciler.loop.stacks import StackSet

    stacks = StackSet([folder])
    changes = stacks.reload()
    assert [(c.kind, c.stack) for c in changes] == [("loaded", "shop")]
    assert [c.name for c in stacks.desired().containers()] == [
        "shop-db-1", "shop-db-2", "shop-web-1"]


def test_a_saved_plan_of_f_files_applies_with_the_same_f_files(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    driver = InMemoryDriver()
    saved = folder / "plan.json"
    compose = ["-f", str(folder / "compose.yaml")]
    code, _, err = _run(capsys, driver, folder, "plan", *compose, "--out", str(saved))
    assert code == 0, err
    code, _, err = _run(capsys, driver, folder, "apply", "--plan", str(saved), *compose)
    assert code == 0, err
    # exactly the saved plan: web waits for db to be healthy, so it is not in it
    assert sorted(driver.containers) == ["shop-db-1", "shop-db-2"]


def test_stack_files_never_import_the_compose_modules(tmp_path: Path) -> None:
    stack = tmp_path / "shop.yaml"
    stack.write_text("version: 1\ncontainers:\n  web: {image: 'busybox:1'}\n")
    probe = ("import sys; from reconciler.spec.stacks import load_stacks; "
             f"load_stacks([{str(stack)!r}]); "
             "print(sorted(m for m in sys.modules if m.startswith('reconciler.spec.compose')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


def test_a_folder_merges_the_override_file_into_its_compose_file(folder: Path) -> None:
    (folder / "compose.override.yaml").write_text(
        "services:\n  web: {environment: {TZ: Europe/Paris}}\n")
    (folder / "other.yaml").write_text("version: 1\ncontainers:\n  a: {image: 'busybox:1'}\n")
    stacks = {s.name: s for s in load_stacks([folder]).stacks}
    assert set(stacks) == {"shop", "other"}
    web = next(c for c in stacks["shop"].containers if c.key == "web")
    assert web.env_map["TZ"] == "Europe/Paris"
    # named on its own, a Compose file is that file only, as with `docker compose -f`
    alone = load_stacks([folder / "compose.yaml"]).stacks[0]
    assert next(c for c in alone.containers if c.key == "web").env_map["TZ"] == "UTC"


def test_problems_of_included_and_extended_files_name_those_files(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""\
        services:
          common:
            image: busybox:1
            privileged: true
        """))
    (tmp_path / "lib.yaml").write_text(textwrap.dedent("""\
        services:
          cache:
            image: busybox:1
            ports: ["70000:80"]
        """))
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        name: app
        include: [lib.yaml]
        services:
          web:
            extends: {file: base.yaml, service: common}
        """))
    with pytest.raises(SpecError) as raised:
        load_stacks([tmp_path / "compose.yaml"])
    assert [(Path(p.file).name, p.line, p.column) for p in raised.value.problems] == [
        ("lib.yaml", 4, 13)]
    (tmp_path / "lib.yaml").write_text((tmp_path / "lib.yaml").read_text().replace("70000",
                                                                                   "7000"))
    stack = load_stacks([tmp_path / "compose.yaml"]).stacks[0]
    assert [(Path(w.file).name, w.line, w.column) for w in stack.warnings] == [
        ("base.yaml", 4, 5)]


def test_the_loop_takes_the_compose_options(folder: Path) -> None:
    from reconciler.loop.stacks import StackSet

    named = ComposeRequest(options=ComposeOptions(project_name="other", environ={}))
    stacks = StackSet([folder / "compose.yaml"], compose=named)
    assert [(c.kind, c.stack) for c in stacks.reload()] == [("loaded", "other")]
    strict = StackSet([folder / "compose.yaml"], compose=ComposeRequest(strict=True))
    [change] = strict.reload()
    assert change.kind == "invalid"
    assert "compose.yaml:10:5: compose key `privileged`" in change.problems[0]
