"""Renderers: JSON against its schema, a Markdown snapshot, colour only when asked, and
secrets never printed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.cli.output import print_plan
from reconciler.model.actions import Plan
from reconciler.model.desired import Desired
from reconciler.model.observed import Observed
from reconciler.model.records import replace
from reconciler.planner.markdown import render_markdown
from reconciler.planner.plan import PlanOptions, plan
from reconciler.planner.render import (
    format_value,
    render_json,
    render_text,
)
from tests.fakes import digest_of
from tests.plan_fixtures import (
    WEB_IMAGE,
    base_stack,
    observed_for,
    rehash,
    spec_of,
    with_containers,
    without,
)

SCHEMA = json.loads((Path(__file__).parents[3] / "schemas" / "plan.schema.json").read_text())
SECRET = "hunter2-do-not-print"


def busy_plan() -> Plan:
    """A replace with a moved tag, an env change and a secret; an orphan; a new replica."""
    stack = base_stack()
    observed = observed_for(Desired((stack,)))
    images = {**observed.images, WEB_IMAGE.identity: digest_of("web rebuilt")}
    observed = replace(observed, images=images)
    web = rehash(spec_of(stack, "web"), env=(("DB_PASSWORD", SECRET), ("TZ", "CET")))
    second_db = rehash(spec_of(stack, "db"), replica=2, name="shop-db-2")
    stack = with_containers(without(stack, "cache"), web, second_db)
    return plan(Desired((stack,)), observed)


def fresh_plan() -> Plan:
    return plan(Desired((base_stack(),)), Observed())


def rollout_plan() -> Plan:
    """A start-first replace of db: its eight steps."""
    stack = base_stack()
    db = rehash(spec_of(stack, "db"), env=(("TZ", "CET"),), update_order="start-first")
    return plan(Desired((with_containers(stack, db),)), observed_for(Desired((stack,))))


@pytest.mark.parametrize("make", [busy_plan, fresh_plan, rollout_plan, lambda: Plan()])
def test_json_output_validates_against_the_schema(make: Any) -> None:
    document = json.loads(render_json(make()))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_json_output_carries_full_values_and_dependencies() -> None:
    document = json.loads(render_json(fresh_plan()))
    web = next(a for a in document["actions"] if a["id"] == "create:shop-web")
    assert web == {
        "id": "create:shop-web",
        "kind": "create",
        "target": "shop-web",
        "stack": "shop",
        "reason": "new in the spec",
        "changes": [],
        "depends_on": ["create:shop-db", "pull:web"],
    }
    assert document["summary"]["create"] == 4
    assert document["summary"]["actions"] == 7
    replaced = json.loads(render_json(busy_plan()))["actions"]
    digest = next(c for a in replaced for c in a["changes"] if c["path"] == "image_digest")
    assert digest["new"] == digest_of("web rebuilt")  # never abbreviated in JSON


def test_json_marks_the_steps_of_a_rollout_and_the_wait_that_cleans_up() -> None:
    document = json.loads(render_json(rollout_plan()))
    steps = document["actions"]
    assert {a.get("rollout") for a in steps} == {"shop-db"}
    assert [a["id"] for a in steps if a.get("remove_on_failure")] == [
        "wait-healthy:shop-db.next"
    ]
    assert steps[0]["changes"] == [{"path": "env.TZ", "old": "UTC", "new": "CET"}]
    summary = document["summary"]
    assert (summary["create-stopped"], summary["start"], summary["wait-healthy"],
            summary["remove"], summary["replace"]) == (2, 2, 2, 2, 0)  # by kind, literally
    assert summary["text"] == "Plan: 0 to create, 1 to replace, 0 to remove."


# The Markdown snapshot of busy_plan() is tests/golden/plan-busy.md
# (tests/unit/planner/test_markdown_golden.py compares it byte for byte).


def test_markdown_of_an_empty_plan_says_nothing_to_do() -> None:
    assert "No changes. Nothing to do." in render_markdown(Plan())


def test_secrets_are_never_printed() -> None:
    current = busy_plan()
    for output in (render_text(current), render_json(current), render_markdown(current)):
        assert SECRET not in output
        assert "(sensitive)" in output


def test_colour_only_when_asked() -> None:
    current = busy_plan()
    plain = render_text(current, color=False)
    coloured = render_text(current, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[" in coloured
    assert "\x1b[33m~ replace shop-web" in coloured  # replace in yellow


def test_print_plan_writes_no_colour_to_a_pipe() -> None:
    out = io.StringIO()
    print_plan(busy_plan(), out)
    assert "\x1b[" not in out.getvalue()
    assert out.getvalue().endswith("Plan: 1 to create, 1 to replace, 0 to remove.\n")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_print_plan_colours_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    print_plan(busy_plan(), tty)
    assert "\x1b[" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    tty = _Tty()
    print_plan(busy_plan(), tty)
    assert "\x1b[" not in tty.getvalue()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sha256:" + "ab12" * 16, "sha256:ab12ab12ab12…"),
        ("sha256:short", '"sha256:short"'),
        ("UTC", '"UTC"'),
        (None, "null"),
        (256, "256"),
        (["a", "b"], '["a", "b"]'),
        ("(sensitive)", "(sensitive)"),
    ],
)
def test_values_are_shown_json_style_with_digests_abbreviated(value: Any, shown: str) -> None:
    assert format_value(value) == shown


def test_text_lists_orphans_and_tells_how_to_remove_them() -> None:
    text = render_text(plan(Desired((without(base_stack(), "job"),)), _observed_base()))
    assert "! orphan shop-job (kept; use --prune to remove)" in text.splitlines()
    pruned = plan(
        Desired((without(base_stack(), "job"),)), _observed_base(), PlanOptions(prune=True)
    )
    assert "- remove shop-job  (no longer in the spec)" in render_text(pruned).splitlines()


def _observed_base() -> Observed:
    return observed_for(Desired((base_stack(),)))
