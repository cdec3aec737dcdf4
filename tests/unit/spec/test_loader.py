"""YAML loading: locations for keys and values, YAML 1.2 scalars, anchors and merges,
duplicate keys, refusal of unsafe or oversized input."""

from __future__ import annotations

from pathlib import Path

from reconciler.spec.loader import MAX_NODES, LoadedFile, iter_stack_files, load_file


def _load(tmp_path: Path, text: str) -> LoadedFile:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_file(path)


def test_every_key_and_value_has_a_location(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "version: 1\ncontainers:\n  web:\n    ports: ['80:80', '81:81']\n")
    assert loaded.problems == []
    assert loaded.keys[("containers", "web")] == (3, 3)
    assert loaded.values[("containers", "web", "ports")] == (4, 12)
    assert loaded.values[("containers", "web", "ports", 1)] == (4, 22)
    assert loaded.locate(("containers", "web", "nope")) == (4, 5)  # nearest ancestor


def test_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: no\nb: yes\nc: 22:22\nd: true\ne: 010\nf: 1.5\ng: ~\nh: on\n")
    assert loaded.data == {
        "a": "no",
        "b": "yes",
        "c": "22:22",
        "d": True,
        "e": 10,
        "f": 1.5,
        "g": None,
        "h": "on",
    }


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "base: &base {image: x, restart: always}\n"
        "more: &more {replicas: 2}\n"
        "one:\n  <<: *base\n  restart: 'no'\n"
        "two:\n  <<: [*more, *base]\n"
        "three: *base\n",
    )
    assert loaded.problems == []
    assert loaded.data["one"] == {"image": "x", "restart": "no"}
    assert loaded.data["two"] == {"replicas": 2, "image": "x", "restart": "always"}
    assert loaded.data["three"] == {"image": "x", "restart": "always"}


def test_duplicate_key_points_at_the_second_and_names_the_first(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: 1\nb: 2\na: 3\n")
    (problem,) = loaded.problems
    assert (problem.line, problem.column) == (3, 1)
    assert "duplicate key `a` (first defined at line 1)" in problem.message


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    loaded = _load(tmp_path, "\n".join(lines) + "\n")
    assert loaded.data is None
    assert f"more than {MAX_NODES} nodes" in loaded.problems[0].message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: &a [*a]\n")
    assert loaded.data is None and loaded.problems


def test_unsafe_tags_are_refused(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: !!python/name:os.system\nb: !!binary aGVsbG8=\n")
    assert [p.line for p in loaded.problems] == [1, 2]
    assert all("unsupported YAML tag" in p.message for p in loaded.problems)


def test_multiple_documents_are_refused(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "a: 1\n---\nb: 2\n")
    assert loaded.problems and loaded.problems[0].line == 2


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    assert load_file(path).data == {"version": 1}


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    assert load_file(path).problems[0].message == "not a UTF-8 text file"


def test_directories_expand_to_sorted_yaml_files(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", "notes.txt"):
        (tmp_path / name).write_text("x: 1\n")
    (tmp_path / "sub.yaml").mkdir()
    found = list(iter_stack_files([tmp_path, tmp_path / "missing.yaml"]))
    assert [(p.name, err) for p, err in found] == [
        ("a.yaml", None),
        ("b.yml", None),
        ("missing.yaml", "no such file or directory"),
    ]


def test_the_fast_and_the_pure_parser_give_the_same_data_and_locations(tmp_path: Path) -> None:
    import yaml

    from reconciler.spec import loader

    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nx-base: &b {image: 'r.io/a:1', env: {A: '010'}}\n"
                    "containers:\n  web:\n    <<: *b\n    replicas: 010\n")
    fast = loader.load_file(path)
    original = loader.FastStackYamlLoader
    loader.FastStackYamlLoader = loader.StackYamlLoader
    try:
        pure = loader.load_file(path)
    finally:
        loader.FastStackYamlLoader = original
    assert fast.data == pure.data
    assert fast.data["containers"]["web"]["replicas"] == 10
    assert fast.values == pure.values and fast.keys == pure.keys
    assert getattr(yaml, "__with_libyaml__", False) is (original is not loader.StackYamlLoader)
