"""Hostile stack input (issue 11): every case in hostile_stacks.REFUSED is refused with its
exact message at its exact place, and nothing from an env file is ever quoted; every case
in WARNED loads, with its exact warning. Then the values that must keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.drivers.native.container.bundle import memory_resources
from reconciler.model.errors import Problem, SpecError
from reconciler.spec import hostfacts
from reconciler.spec.risks import bind_risk
from reconciler.spec.stacks import load_stacks
from tests.unit.spec.hostile_stacks import REFUSED, SECRET, WARNED, Hostile


@pytest.fixture(autouse=True)
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostfacts, "online_cpus", lambda: frozenset({0, 1}))


def _located(problem: Problem, folder: Path) -> str:
    return f"{Path(problem.file).relative_to(folder)}:{problem.line}:{problem.column}"


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_hostile_input_is_refused_exactly_where_it_is(case: Hostile, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    problems = raised.value.problems
    found = [(_located(p, tmp_path), p.message) for p in problems]
    assert (case.where, case.message) in found, "\n".join(map(str, problems))
    assert SECRET not in str(raised.value)
    assert all("\n" not in str(p) for p in problems)  # one problem, one line


def test_cases_are_many_and_unique() -> None:
    ids = [c.id for c in REFUSED + WARNED]
    assert len(ids) == len(set(ids)) and len(REFUSED) >= 30


def test_a_shadow_like_env_file_is_never_echoed(tmp_path: Path) -> None:
    lines = [f"user{i}:$6${SECRET}{i}:19000:0:99999:7:::" for i in range(30)]
    (tmp_path / "shadow").write_text("\n".join(lines) + "\n")
    path = Hostile("x", "    env_file: shadow\n", "", "").write(tmp_path)
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    assert SECRET not in str(raised.value) and "$6$" not in str(raised.value)
    assert len(raised.value.problems) == 11  # ten lines named, then one summary


@pytest.mark.parametrize("case", WARNED, ids=[c.id for c in WARNED])
def test_risky_settings_load_with_one_exact_warning(case: Hostile, tmp_path: Path) -> None:
    desired = load_stacks([case.write(tmp_path)])
    (warning,) = desired.warnings()
    assert (_located(warning, tmp_path), warning.message) == (case.where, case.message)
    assert warning.severity == "warning" and str(warning).split(": ", 1)[1].startswith(
        "warning: container `web`")


@pytest.mark.parametrize("path", ["/var/run/docker.sock", "/run/docker.sock"])
def test_the_docker_socket_is_a_risk(path: str) -> None:
    assert bind_risk(path) == "the Docker API socket: whoever talks to it is root on the host"


@pytest.mark.parametrize("path", ["/etc/localtime", "/var/lib/app", "/procfs", "/home"])
def test_ordinary_host_paths_are_not_risks(path: str) -> None:
    assert bind_risk(path) == ""


def test_values_that_must_keep_working(tmp_path: Path) -> None:
    """Scripts with newlines, PEM env values, IPv6 dns, unlimited swap, a host cpuset."""
    (tmp_path / "app.env").write_text("A=1\n")
    web = ('    command: ["sh", "-c", "echo a\\necho b\\tc"]\n'
           '    env: {PEM: "-----BEGIN KEY-----\\nabc\\n-----END KEY-----\\n", LOG: "a=b"}\n'
           '    env_file: app.env\n'
           '    dns: ["10.0.0.2", "fd00::53"]\n'
           "    limits: {memory: 6Mi, memory_swap: -1, cpuset: 0-1, cpus: 2,"
           " ulimits: {nofile: [1, 1]}}\n")
    (spec,) = load_stacks([Hostile("ok", web, "", "").write(tmp_path)]).containers()
    assert spec.command == ("sh", "-c", "echo a\necho b\tc")
    assert spec.env_map["PEM"].count("\n") == 3 and spec.dns == ("10.0.0.2", "fd00::53")
    assert (spec.limits.memory_swap, spec.limits.cpuset) == (-1, "0-1")
    assert memory_resources(spec) == {"limit": 6 * 2**20, "swap": -1}  # OCI: unlimited swap


def test_memory_swap_below_minus_one_is_refused(tmp_path: Path) -> None:
    path = Hostile("x", "    limits: {memory: 8m, memory_swap: -2}\n", "", "").write(tmp_path)
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    (problem,) = raised.value.problems
    assert (problem.line, problem.column) == (5, 39)
    assert problem.message.startswith("`limits.memory_swap` of container `web`: expected")


CONTROLS = [*range(0x20), 0x7F]


@pytest.mark.parametrize("code", CONTROLS, ids=[f"U+{c:04X}" for c in CONTROLS])
@pytest.mark.parametrize("where", ["value", "key"])
def test_every_control_character_is_found_in_a_key_or_a_value(
        tmp_path: Path, code: int, where: str) -> None:
    """The string check's first look (for escapes in the data's canonical JSON) misses
    none: each control character, in a label's value or in its name, is reported; a
    backslash of the text itself (`\\n` as two characters) is no control character."""
    from reconciler.spec.stacks import validate_paths

    text = f"a\\x{code:02x}b"
    label = f'"l": "{text}"' if where == "value" else f'"{text}": "v"'
    path = tmp_path / "app.yaml"
    path.write_text("version: 1\nname: app\ncontainers:\n  web:\n    image: app:1\n"
                    f'    labels: {{{label}, "plain": "x\\\\ny"}}\n')
    problems = [p.message for p in validate_paths([path])]
    named = {0: "a NUL character", 0x0A: "a line break", 0x0D: "a line break"}
    assert len(problems) == 1 and named.get(code, f"U+{code:04X}") in problems[0], problems
