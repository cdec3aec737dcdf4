"""Saved plans: the document `plan --out FILE` writes and the checks `apply --plan FILE`
makes before it runs exactly those actions (docs/gitops.md). Pure: the caller reads and
writes the file, observes the host and passes the clock in.

The document is the JSON plan (render.plan_to_dict) plus `saved`: the paths and options it
was made with, the hash of the normalized stacks, and the fingerprint of the observed host.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.actions import Plan
from reconciler.model.desired import Desired
from reconciler.model.errors import StalePlan
from reconciler.model.observed import Observed
from reconciler.planner.fingerprint import describe_moves, desired_hash, observed_fingerprint
from reconciler.planner.render import FORMAT_VERSION, plan_to_dict

MAX_NAMED = 10  # moves named in the refusal; the rest are counted


def saved_plan(
    plan: Plan,
    desired: Desired,
    observed: Observed,
    *,
    scope: frozenset[str],
    prune: bool,
    paths: list[str],
    now: float,
) -> dict[str, Any]:
    doc = plan_to_dict(plan)
    doc["saved"] = {
        "paths": list(paths),
        "stacks": sorted(scope),
        "desired_hash": desired_hash(desired),
        "prune": prune,
        "made_at": now,
        "observed": observed_fingerprint(observed, scope, desired),
    }
    return doc


def saved_section(doc: Any) -> dict[str, Any]:
    """The `saved` part of a saved plan; StalePlan when the document is not one."""
    if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
        raise StalePlan(f"not a saved plan of format version {FORMAT_VERSION}")
    saved = doc.get("saved")
    if not isinstance(saved, dict) or not isinstance(doc.get("actions"), list):
        raise StalePlan("not a saved plan: it has no `saved` section (made with plan --out?)")
    return saved


def check_inputs(doc: dict[str, Any], desired: Desired) -> None:
    """Refuse when the stack files now normalize to something else."""
    if saved_section(doc).get("desired_hash") != desired_hash(desired):
        raise StalePlan("the stack files no longer produce this plan (their content "
                        "changed since it was made); make a new plan")


def check_host(doc: dict[str, Any], desired: Desired, observed: Observed) -> None:
    """Refuse when the host moved since the plan was made, naming what moved."""
    saved = saved_section(doc)
    scope = frozenset(saved.get("stacks", []))
    current = observed_fingerprint(observed, scope, desired)
    moves = describe_moves(saved.get("observed", {}), current)
    if moves:
        named = "; ".join(moves[:MAX_NAMED])
        more = f" (and {len(moves) - MAX_NAMED} more)" if len(moves) > MAX_NAMED else ""
        raise StalePlan(f"the host changed since this plan was made: {named}{more}; "
                        "make a new plan")


def check_same_actions(doc: dict[str, Any], replanned: Plan) -> None:
    """Inputs and host match, so planning again must give the saved actions; anything
    else (a user stop since, another reconcile version) is refused too, never applied."""
    now = plan_to_dict(replanned)["actions"]
    if now == doc.get("actions"):
        return
    saved_ids = [a.get("id") for a in doc.get("actions", []) if isinstance(a, dict)]
    now_ids = [a["id"] for a in now]
    extra = [i for i in now_ids if i not in saved_ids]
    missing = [i for i in saved_ids if i not in now_ids]
    detail = "; ".join(
        part for part in (
            f"now also {', '.join(extra)}" if extra else "",
            f"no longer {', '.join(str(m) for m in missing)}" if missing else "",
        ) if part
    ) or "the actions' details differ"
    raise StalePlan(f"the stack files and the host no longer produce this plan: {detail}; "
                    "make a new plan")
