"""Pure parts of history and rollback: image pins, history look-ups, held stack entries."""

from __future__ import annotations

from pathlib import Path

from reconciler.loop.history import History, pin_stack, unpinned
from reconciler.loop.stacks import StackSet, content_digest
from reconciler.model.hashing import config_hash
from reconciler.spec.stacks import load_stacks
from tests.fakes import digest_of
from tests.gitrepos import stack_yaml

TAG = "ref:registry.local:5000/acme/web:1.4"


def test_pins_turn_a_tag_into_its_digest_and_keep_the_config_hash_true(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(stack_yaml())
    stack = load_stacks([tmp_path / "shop.yaml"]).stacks[0]
    digest = digest_of("old")
    pinned = pin_stack(stack, {TAG: digest})
    [web] = pinned.containers
    assert web.image.identity == f"{TAG}@{digest}"
    assert web.image.ref == f"registry.local:5000/acme/web:1.4@{digest}"
    assert web.config_hash == config_hash(web) != stack.containers[0].config_hash
    assert unpinned(web.image.identity) == TAG
    assert pin_stack(pinned, {TAG: digest_of("other")}) == pinned  # already pinned
    assert pin_stack(stack, {}) is stack


def test_history_finds_by_prefix_and_the_previous_good_one(tmp_path: Path) -> None:
    history = History(tmp_path)
    for commit, result in (("aaa1", "ok"), ("bbb2", "ok"), ("ccc3", "rolled-back")):
        history.record("shop", {"commit": commit, "result": result})
    again = History(tmp_path)  # read back from the file
    assert [e["commit"] for e in again.entries("shop")] == ["aaa1", "bbb2", "ccc3"]
    assert again.find("shop", "bb") == {"commit": "bbb2", "result": "ok"}
    assert again.find("shop", "ccc") is None  # never applied ok
    assert again.previous_good("shop", "bbb2") == {"commit": "aaa1", "result": "ok"}
    assert again.entries("other") == []


def test_a_held_entry_is_left_alone_until_its_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(stack_yaml("1"))
    stacks = StackSet([tmp_path])
    stacks.reload()
    entry = stacks.entries[str(path)]
    entry.held = content_digest(path)
    assert [c.kind for c in stacks.reload(force=True)] == ["unchanged"]
    path.write_text(stack_yaml("2"))
    assert [c.kind for c in stacks.reload()] == ["loaded"]
    assert entry.held == "" and entry.stack is not None
    assert entry.stack.containers[0].env == (("VERSION", "2"),)
