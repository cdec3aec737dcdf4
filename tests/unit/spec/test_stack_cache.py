"""The stack cache (spec/stack_cache.py): an unchanged stack file is neither parsed nor
schema-checked again, yet every referenced file is read again, problems keep their line
and column, and no secret reaches the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.model.errors import SpecError
from reconciler.spec import loader, schema_check
from reconciler.spec.stacks import load_stacks

STACK = """\
version: 1
name: shop
containers:
  web:
    image: r.io/web:1
    env_file: ./web.env
    env: {MODE: prod}
    ports: ["8080:80"]
"""


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often a file was parsed as YAML and how often its schema was checked."""
    calls = {"parse": 0, "schema": 0}
    parse, validator = loader.load_file, schema_check.schema_problems

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counting_validator(*args: Any) -> Any:
        calls["schema"] += 1
        return validator(*args)

    monkeypatch.setattr(loader, "load_file", counting_parse)
    monkeypatch.setattr(schema_check, "schema_problems", counting_validator)
    return calls


def _write(tmp_path: Path, stack: str = STACK, env: str = "LEVEL=info\n") -> Path:
    (tmp_path / "web.env").write_text(env)
    path = tmp_path / "shop.yaml"
    path.write_text(stack)
    return path


def _env(path: Path, cache: Path | None) -> dict[str, str]:
    (web,) = load_stacks([path], cache).containers()
    return dict(web.env)


def test_unchanged_file_is_served_from_the_cache(tmp_path: Path, counted: dict[str, int]) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    first = load_stacks([path], cache)
    assert counted == {"parse": 1, "schema": 1}
    again = load_stacks([path], cache)
    assert counted == {"parse": 1, "schema": 1}  # neither parsed nor checked again
    assert again == first  # the same Desired, config hashes included
    assert again == load_stacks([path])  # and the same as without any cache


def test_changed_bytes_are_read_in_full(tmp_path: Path, counted: dict[str, int]) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    load_stacks([path], cache)
    path.write_text(STACK.replace("MODE: prod", "MODE: dev"))
    assert _env(path, cache)["MODE"] == "dev"
    assert counted["parse"] == 2


def test_a_changed_env_file_is_seen(tmp_path: Path) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    before = load_stacks([path], cache).containers()[0]
    (tmp_path / "web.env").write_text("LEVEL=debug\n")
    after = load_stacks([path], cache).containers()[0]
    assert dict(after.env)["LEVEL"] == "debug"
    assert after.config_hash != before.config_hash


def test_a_problem_in_a_cached_file_keeps_its_location(tmp_path: Path) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    load_stacks([path], cache)
    (tmp_path / "web.env").unlink()  # the file is unchanged; what it references is gone
    with pytest.raises(SpecError) as raised:
        load_stacks([path], cache)
    (problem,) = raised.value.problems
    assert "web.env" in problem.message
    assert (problem.line, problem.column) == (6, 15)  # the env_file value...
    with pytest.raises(SpecError) as uncached:
        load_stacks([path])
    assert raised.value.problems == uncached.value.problems  # ...as without the cache


def test_a_clash_with_a_cached_file_is_located_on_both_sides(tmp_path: Path) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    load_stacks([path], cache)
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nname: other\ncontainers:\n  api:\n"
                     "    image: r.io/api:1\n    ports: [\"8080:80\"]\n")
    with pytest.raises(SpecError) as raised:
        load_stacks([tmp_path], cache)
    with pytest.raises(SpecError) as uncached:
        load_stacks([tmp_path])
    assert raised.value.problems == uncached.value.problems
    assert raised.value.problems and all(p.line > 1 for p in raised.value.problems)


def test_no_secret_reaches_the_cache(tmp_path: Path, counted: dict[str, int]) -> None:
    secret_stack = STACK.replace("env: {MODE: prod}", "env: {MODE: prod, DB_PASSWORD: hunter2}")
    path = _write(tmp_path, secret_stack, env="API_TOKEN=from-the-env-file\n")
    cache = tmp_path / "cache"
    assert _env(path, cache)["DB_PASSWORD"] == "hunter2"
    assert _env(path, cache)["API_TOKEN"] == "from-the-env-file"
    assert counted == {"parse": 2, "schema": 1}  # valid is remembered, the data is not
    written = b"".join(f.read_bytes() for f in cache.rglob("*") if f.is_file())
    assert b"hunter2" not in written and b"from-the-env-file" not in written
    clear = tmp_path / "clear"
    clear.mkdir()
    load_stacks([_write(clear, env="API_TOKEN=from-the-env-file\n")], cache)
    written = b"".join(f.read_bytes() for f in cache.rglob("*") if f.is_file())
    assert b"r.io/web:1" in written  # a file without secrets is kept as data...
    assert b"from-the-env-file" not in written  # ...but never what its env file holds


def test_a_damaged_entry_is_a_miss(tmp_path: Path, counted: dict[str, int]) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    load_stacks([path], cache)
    for entry in (cache / "files").iterdir():
        entry.write_text("{not json")
    assert _env(path, cache)["MODE"] == "prod"
    assert counted["parse"] == 2


@pytest.mark.parametrize("cached", [False, True])
def test_a_file_with_a_problem_still_takes_part_in_the_clash_check(tmp_path: Path,
                                                                    cached: bool) -> None:
    path, cache = _write(tmp_path), tmp_path / "cache"
    if cached:
        load_stacks([path], cache)
    (tmp_path / "web.env").unlink()
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nname: other\ncontainers:\n  api:\n"
                     "    image: r.io/api:1\n    ports: [\"8080:80\"]\n")
    with pytest.raises(SpecError) as raised:
        load_stacks([tmp_path], cache if cached else None)
    messages = " | ".join(p.message for p in raised.value.problems)
    assert "web.env" in messages and "8080" in messages, messages
