"""The pull-request Markdown (`plan -o markdown`) compared byte for byte with
tests/golden/plan-*.md.

To regenerate after a deliberate change of the format, run

    RECONCILE_REGENERATE_GOLDEN=1 PYTHONPATH=. pytest -q tests/unit/planner/test_markdown_golden.py

and review `git diff tests/golden` before committing: the diff is what every open pull
request's comment will show on its next update.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.model.actions import Plan
from reconciler.model.desired import Dependency, Desired
from reconciler.model.errors import Problem
from reconciler.model.observed import Observed
from reconciler.model.records import replace
from reconciler.planner.markdown import render_markdown
from reconciler.planner.plan import PlanOptions, plan
from tests.plan_fixtures import (
    base_stack,
    observed_for,
    rehash,
    spec_of,
    with_containers,
    without,
)
from tests.unit.planner.test_render import SECRET, busy_plan, fresh_plan, rollout_plan

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def long_diff_plan() -> Plan:
    """A replace with many changes (folded away), a secret and a URL password among them."""
    stack = base_stack()
    env = (("API_TOKEN", SECRET), ("DATABASE_URL", f"postgres://app:{SECRET}@db/shop"),
           ("LANG", "C.UTF-8"), ("TZ", "CET"))
    web = rehash(spec_of(stack, "web"), env=env, command=("nginx", "-g", "daemon off;"))
    return plan(Desired((with_containers(stack, web),)), observed_for(Desired((stack,))))


def two_stacks_plan() -> Plan:
    """Two stacks, one warning; waiting and orphan lists."""
    shop = without(base_stack(), "job")
    warn = Problem("/srv/shop/shop.yaml", 12, 7, "binds /etc: the host's users <root>",
                   "warning")
    other = replace(base_stack(), name="blog", source="/srv/blog/blog.yaml",
                    containers=tuple(rehash(c, stack="blog", name=c.name.replace("shop", "blog"))
                                     for c in base_stack().containers), warnings=(warn,))
    web = rehash(spec_of(other, "web"), depends_on=(Dependency("db", "healthy"),))
    other = with_containers(other, web)
    observed = observed_for(Desired((base_stack(),)))
    return plan(Desired((replace(shop, warnings=(warn,)), other)), observed,
                PlanOptions(prune=False))


CASES: dict[str, Callable[[], Plan]] = {
    "busy": busy_plan,
    "fresh": fresh_plan,
    "rollout": rollout_plan,
    "long-diff": long_diff_plan,
    "two-stacks": two_stacks_plan,
    "empty": lambda: plan(Desired(), Observed()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_markdown_matches_its_golden_file(name: str) -> None:
    text = render_markdown(CASES[name]())
    path = GOLDEN / f"plan-{name}.md"
    if os.environ.get("RECONCILE_REGENERATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert SECRET not in text


def test_markdown_is_the_same_for_the_same_inputs() -> None:
    assert render_markdown(two_stacks_plan()) == render_markdown(two_stacks_plan())
