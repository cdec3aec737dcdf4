"""Renderers of a Plan: text (terminal) and JSON (machines, schemas/plan.schema.json); the
Markdown of pull-request comments is planner/markdown.py. Pure functions of the plan.

Secrets: env values whose name looks sensitive arrive already masked (hashing.diff_fields);
nothing here prints env values from anywhere else. Warnings (risky settings, located) are
listed after the actions in every format.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from typing import Any

from reconciler.model import hashing
from reconciler.model.actions import Action, FieldChange, Kind, Plan

FORMAT_VERSION = 1
DIGEST_CHARS = 12
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{13,})$")  # longer than DIGEST_CHARS

_SYMBOL = {
    Kind.PULL: "↓",
    Kind.IMPORT: "↓",
    Kind.BUILD: "↓",
    Kind.CREATE_VOLUME: "+",
    Kind.CREATE: "+",
    Kind.CREATE_STOPPED: "+",
    Kind.START: "▶",
    Kind.WAIT_HEALTHY: "⧗",
    Kind.RESTART: "↻",
    Kind.REPLACE: "~",
    Kind.REMOVE: "-",
    Kind.REMOVE_VOLUME: "-",
}
_STYLE = {
    Kind.PULL: "blue",
    Kind.IMPORT: "blue",
    Kind.BUILD: "blue",
    Kind.CREATE_VOLUME: "green",
    Kind.CREATE: "green",
    Kind.CREATE_STOPPED: "green",
    Kind.START: "cyan",
    Kind.WAIT_HEALTHY: "cyan",
    Kind.RESTART: "cyan",
    Kind.REPLACE: "yellow",
    Kind.REMOVE: "red",
    Kind.REMOVE_VOLUME: "red",
}
_IMAGE_KINDS = (Kind.PULL, Kind.IMPORT, Kind.BUILD)
ORPHAN_NOTE = "kept; use --prune to remove"
NO_CHANGES = "No changes. Nothing to do."


# -- shared -------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """JSON-style repr; digests abbreviated to 12 hex characters, the mask left bare."""
    if isinstance(value, str):
        match = _DIGEST.match(value)
        if match:
            return f"{match.group(1)}:{match.group(2)[:DIGEST_CHARS]}…"
        if value == hashing.MASK:
            return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def format_change(change: FieldChange) -> str:
    return f"{change.path} {format_value(change.old)} → {format_value(change.new)}"


def explain(action: Action) -> str:
    """The parenthesised part of a text line: the reason, or a replace's field changes (a
    rollout's first step shows both: it says which replace it starts)."""
    if not action.changes:
        return action.reason
    changes = "; ".join(format_change(c) for c in action.changes)
    return changes if action.kind == Kind.REPLACE else f"{action.reason}: {changes}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(plan: Plan) -> str:
    if plan.empty:
        return NO_CHANGES
    # The steps of a start-first replace count as the one replace they make up.
    kinds = Counter(a.kind for a in plan.actions if not a.rollout)
    kinds[Kind.REPLACE] += len({a.rollout for a in plan.actions if a.rollout})
    main = [
        f"{kinds[Kind.CREATE]} to create",
        f"{kinds[Kind.REPLACE]} to replace",
        f"{kinds[Kind.REMOVE]} to remove",
    ]
    extra = []
    if kinds[Kind.START]:
        extra.append(f"{kinds[Kind.START]} to start")
    if kinds[Kind.RESTART]:
        extra.append(f"{kinds[Kind.RESTART]} to restart")
    images = sum(kinds[k] for k in _IMAGE_KINDS)
    if images:
        extra.append(f"{_plural(images, 'image')} to ensure")
    if kinds[Kind.CREATE_VOLUME]:
        extra.append(f"{_plural(kinds[Kind.CREATE_VOLUME], 'volume')} to create")
    if kinds[Kind.REMOVE_VOLUME]:
        extra.append(f"{_plural(kinds[Kind.REMOVE_VOLUME], 'volume')} to remove")
    return "Plan: " + ", ".join(main) + ("; " + ", ".join(extra) if extra else "") + "."


# -- text ---------------------------------------------------------------------------------


def _text_lines(plan: Plan) -> list[tuple[str, str]]:
    """(rich style, plain text) per line."""
    lines = [
        (_STYLE[a.kind], f"{_SYMBOL[a.kind]} {a.kind} {a.target}  ({explain(a)})")
        for a in plan.actions
    ]
    lines += [("dim", f"= unchanged {name}") for name in plan.unchanged]
    lines += [("magenta", f"! orphan {name} ({ORPHAN_NOTE})") for name in plan.orphans]
    lines += [("red", f"✗ blocked {w.name} ({w.reason})") if w.failed else
              ("yellow", f"… waiting {w.name} ({w.reason})") for w in plan.waiting]
    lines += [("bold yellow", f"⚠ {w}") for w in plan.warnings]
    lines.append(("bold", summary_line(plan)))
    return lines


def render_text(plan: Plan, color: bool = False) -> str:
    """One line per action, unchanged container and orphan, then the summary line.
    ANSI colour only when `color` is true (the caller knows whether it writes to a tty)."""
    lines = _text_lines(plan)
    if not color:
        return "\n".join(text for _, text in lines)
    from rich.console import Console  # only for colour: rich costs ~40 ms to import
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="standard", highlight=False, width=10_000
    )
    for style, text in lines:
        console.print(Text(text, style=style), soft_wrap=True)
    return buffer.getvalue().rstrip("\n")


# -- json ---------------------------------------------------------------------------------


def _action_dict(a: Action) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": a.id,
        "kind": str(a.kind),
        "target": a.target,
        "stack": a.stack,
        "reason": a.reason,
        "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in a.changes],
        "depends_on": list(a.depends_on),
    }
    if a.rollout:  # only on the steps of a start-first replace
        doc["rollout"] = a.rollout
    if a.remove_on_failure:
        doc["remove_on_failure"] = True
    return doc


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON document described by schemas/plan.schema.json (values unabbreviated)."""
    kinds = Counter(str(a.kind) for a in plan.actions)
    summary: dict[str, Any] = {str(k): kinds[str(k)] for k in Kind}
    summary.update(
        actions=len(plan.actions),
        unchanged=len(plan.unchanged),
        orphans=len(plan.orphans),
        text=summary_line(plan),
    )
    return {
        "format_version": FORMAT_VERSION,
        "actions": [_action_dict(a) for a in plan.actions],
        "unchanged": list(plan.unchanged),
        "orphans": list(plan.orphans),
        "waiting": [{"name": w.name, "reason": w.reason, "dependency": w.dependency,
                     "condition": w.condition, "failed": w.failed} for w in plan.waiting],
        "warnings": [{"file": w.file, "line": w.line, "column": w.column,
                      "message": w.message} for w in plan.warnings],
        "summary": summary,
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False)
