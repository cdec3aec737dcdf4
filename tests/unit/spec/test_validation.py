"""Every broken stack is refused with a located, readable problem; every problem is
reported, not just the first; the examples validate."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from reconciler.model.errors import Problem, SpecError
from reconciler.spec.stacks import load_stacks, validate_paths
from tests.unit.broken_stacks import CASES, BrokenStack

REPO = Path(__file__).resolve().parents[3]


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    return raised.value.problems


def _matches(problem: Problem, case: BrokenStack) -> bool:
    if case.message not in problem.message:
        return False
    if case.location is None:
        return problem.line == 0
    return f"{problem.line}:{problem.column}" == case.location


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_stack_is_refused_with_location(case: BrokenStack, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    problems = _problems(path)
    assert any(_matches(p, case) for p in problems), "\n".join(map(str, problems))
    assert all(p.file.endswith(case.file_name) or ".env" in p.file for p in problems)


def test_there_are_enough_cases_with_unique_ids() -> None:
    assert len(CASES) >= 28
    assert len({c.id for c in CASES}) == len(CASES)


def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = next(c for c in CASES if c.id == "yaml-bomb")
    path = bomb.write(tmp_path)
    start = time.perf_counter()
    problems = validate_paths([path])
    assert time.perf_counter() - start < 1.0
    assert "more than 100000 nodes" in problems[0].message


def test_every_problem_in_one_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "version: 1\n"
        "containers:\n"
        "  web:\n"
        "    image: app:1\n"
        "    restrat: always\n"
        "    replicas: -1\n"
        "    network: hots\n"
    )
    problems = _problems(path)
    located = {(p.line, p.column) for p in problems}
    assert {(5, 5), (6, 15), (7, 14)} <= located, problems


def test_semantic_problems_in_one_file_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "version: 1\n"
        "containers:\n"
        "  web:\n"
        "    image: nope\n"
        "    env_file: ./missing.env\n"
        "    depends_on: [db]\n"
    )
    messages = [p.message for p in _problems(path)]
    assert len(messages) == 3, messages


def test_problems_across_two_files_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\ncontainers:\n  web: {image: x:1, bogus: 1}\n")
    (tmp_path / "b.yaml").write_text("version: 3\ncontainers: {}\n")
    problems = _problems(tmp_path)
    assert {Path(p.file).name for p in problems} == {"a.yaml", "b.yaml"}


def test_port_clash_across_stacks_names_both_places(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(
            "version: 1\ncontainers:\n  web:\n    image: x:1\n    ports: ['8080:80']\n"
        )
    (problem,) = _problems(tmp_path)
    assert problem.file.endswith("two.yaml")
    assert (problem.line, problem.column) == (5, 13)
    assert "`two/web` is already published by `one/web`" in problem.message
    assert "one.yaml:5:13" in problem.message


def test_specific_host_ip_and_other_protocol_do_not_clash(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "version: 1\ncontainers:\n"
        "  a: {image: x:1, ports: ['127.0.0.1:53:53/udp', '53:53']}\n"
        "  b: {image: x:1, ports: ['127.0.0.2:54:53/udp']}\n"
    )
    assert validate_paths([path]) == []


def test_same_stack_name_twice_is_refused(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text("version: 1\nname: shop\ncontainers: {}\n")
    (problem,) = _problems(tmp_path)
    assert problem.file.endswith("b.yaml") and (problem.line, problem.column) == (2, 7)
    assert "stack name `shop` is also used by" in problem.message


def test_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "nope.yaml")
    assert "no such file or directory" in problem.message


def test_env_file_syntax_error_points_into_the_env_file(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("# ok\nGOOD=1\nBAD LINE\n")
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\ncontainers:\n  web: {image: x:1, env_file: app.env}\n")
    (problem,) = _problems(path)
    assert problem.file.endswith("app.env") and problem.line == 3
    assert "expected KEY=VALUE" in problem.message


def _fake_examples(tmp_path: Path) -> Path:
    """A copy of examples/ with a minimal OCI layout standing in for the generated busybox
    image (validation only needs the layout's index.json)."""
    root = tmp_path / "examples"
    shutil.copytree(REPO / "examples" / "stacks", root / "stacks")
    layout = root / "images" / "busybox"
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    return root / "stacks"


def test_examples_validate_and_normalize(tmp_path: Path) -> None:
    desired = load_stacks([_fake_examples(tmp_path)])
    names = {s.name: s for s in desired.stacks}
    assert set(names) >= {"shop", "batch-job", "replicas"}
    shop = {c.key: c for c in names["shop"].containers}
    assert {"web", "api", "db", "cache"} <= set(shop)
    assert shop["api"].depends_on and shop["db"].healthcheck is not None
    workers = [c.name for c in names["replicas"].containers if c.key == "worker"]
    assert workers == ["replicas-worker", "replicas-worker-2", "replicas-worker-3"]


def test_examples_without_the_image_layout_name_the_missing_layout(tmp_path: Path) -> None:
    stacks = _fake_examples(tmp_path)
    shutil.rmtree(stacks.parent / "images")
    problems = validate_paths([stacks])
    assert problems and all("OCI image layout" in p.message for p in problems)


def test_replica_name_colliding_with_a_container_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\ncontainers:\n  web: {image: x:1, replicas: 2}\n  web-2: {image: x:1}\n"
    )
    (problem,) = _problems(path)
    assert (problem.line, problem.column) == (4, 3)
    assert "has the name of replica 2 of `web`" in problem.message


def test_long_dependency_chain_with_a_cycle_does_not_exhaust_recursion(tmp_path: Path) -> None:
    count = 3000
    lines = [f"  c{i}: {{image: x:1, depends_on: [c{(i + 1) % count}]}}" for i in range(count)]
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\ncontainers:\n" + "\n".join(lines) + "\n")
    (problem,) = _problems(path)
    assert problem.message.startswith("dependency cycle: c0 -> c1 -> c2 -> ")
    assert problem.message.endswith("c2999 -> c0")


def test_messages_name_the_place_with_list_indexes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\ncontainers:\n  web: {image: x:1, volumes: [{type: tmpfs, target: tmp}]}\n"
    )
    (problem,) = _problems(path)
    assert "`volumes[0].target` of container `web`: expected an absolute path" in problem.message


def test_schema_cache_skips_only_data_that_already_passed(tmp_path: Path) -> None:
    from reconciler.spec import schema_check
    from reconciler.spec.loader import load_file

    good = tmp_path / "good.yaml"
    good.write_text("version: 1\ncontainers:\n  web: {image: 'r.io/a:1'}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncontainers:\n  web: {image: 'r.io/a:1', restrat: no}\n")
    cache = tmp_path / "cache"
    assert schema_check.check_schema(load_file(good), cache) == []
    assert len(list(cache.iterdir())) == 1
    assert schema_check.check_schema(load_file(bad), cache)  # a failure is never cached
    assert len(list(cache.iterdir())) == 1
    calls = []
    original = schema_check.schema_problems
    schema_check.schema_problems = (  # type: ignore[assignment]
        lambda loaded: calls.append(1) or original(loaded))  # type: ignore[func-returns-value]
    try:
        assert schema_check.check_schema(load_file(good), cache) == []
        assert calls == []  # served from the cache
        assert schema_check.check_schema(load_file(bad), cache)
        assert calls == [1]
    finally:
        schema_check.schema_problems = original
