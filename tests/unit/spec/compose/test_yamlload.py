"""The Compose file loader's `<<` merges: an anchor merged in many places is made once and
shared, and still counted, tagged and reported at each place as when made anew."""

from __future__ import annotations

from pathlib import Path

from reconciler.spec.compose.nodes import plain
from reconciler.spec.compose.yamlload import ComposeFile, load_compose_file
from reconciler.spec.loader import MAX_NODES

BASE = "x-base: &base\n  restart: always\n  labels: {a: b}\n"


def _load(tmp_path: Path, text: str) -> ComposeFile:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return load_compose_file(path)


def test_a_merged_anchor_gives_each_service_its_values_at_the_anchors_place(
        tmp_path: Path) -> None:
    loaded = _load(tmp_path, BASE + "services:\n"
                   "  a: {<<: *base, image: x}\n  b:\n    <<: *base\n    restart: 'no'\n")
    assert loaded.problems == []
    assert loaded.root is not None
    services = loaded.root.value["services"].value
    assert plain(services["a"]) == {"image": "x", "restart": "always", "labels": {"a": "b"}}
    assert plain(services["b"]) == {"restart": "no", "labels": {"a": "b"}}
    a_labels, b_labels = services["a"].value["labels"], services["b"].value["labels"]
    assert (a_labels.origin, a_labels.key) == (b_labels.origin, b_labels.key)
    assert (a_labels.origin.line, a_labels.origin.column) == (3, 11)
    assert (a_labels.key.line, a_labels.key.column) == (3, 3)
    assert services["b"].value["restart"].origin.line == 8  # its own value


def test_merges_still_count_toward_the_node_limit(tmp_path: Path) -> None:
    """Each merge of one anchor counts its nodes again, as an alias does."""
    body = ", ".join(f"k{i}: v" for i in range(10_000))
    services = "".join(f"  s{i}: {{<<: *big, image: x}}\n" for i in range(12))
    loaded = _load(tmp_path, f"x-big: &big {{{body}}}\nservices:\n{services}")
    assert loaded.root is None
    assert f"more than {MAX_NODES} nodes" in loaded.problems[0].message
    fewer = "".join(f"  s{i}: {{<<: *big, image: x}}\n" for i in range(8))
    assert _load(tmp_path, f"x-big: &big {{{body}}}\nservices:\n{fewer}").problems == []


def test_a_tag_or_a_problem_in_a_merged_anchor_is_seen_at_every_merge(tmp_path: Path) -> None:
    tagged = _load(tmp_path, "x-t: &t\n  command: !reset []\nservices:\n"
                   "  a: {<<: *t, image: x}\n  b: {<<: *t, image: x}\n")
    assert tagged.resets == [("services", "a", "command"), ("services", "b", "command"),
                             ("x-t", "command")]
    duplicated = _load(tmp_path, "x-d: &d\n  restart: always\n  restart: 'no'\nservices:\n"
                       "  a: {<<: *d, image: x}\n  b: {<<: *d, image: x}\n")
    assert [(p.line, p.column) for p in duplicated.problems] == [(3, 3)] * 3  # x-d, a, b
