"""A Plan as a pull-request comment (`plan -o markdown`). Pure.

Built to be posted and then updated in place, so a new push shows a small diff: the
summary line, one table per stack (stacks by name), rows grouped images, volumes, then
containers by name (a rollout's steps stay together, in plan order), short field changes
inline, long ones folded into `<details>`; then waiting, orphans, unchanged and warnings.
Values come from the plan's changes, already masked (hashing.diff_fields); they are
masked again here by shape, so a URL password can never reach a comment.
"""

from __future__ import annotations

from itertools import groupby

from reconciler.model import hashing
from reconciler.model.actions import Action, FieldChange, Kind, Plan
from reconciler.planner.render import _SYMBOL, format_value, summary_line

INLINE_CHANGES = 3  # a replace with more changes folds them into <details>
INLINE_CHARS = 80  # ... and so does one whose changes print longer than this
_GROUP = {Kind.PULL: 0, Kind.IMPORT: 0, Kind.BUILD: 0, Kind.CREATE_VOLUME: 1,
          Kind.REMOVE_VOLUME: 1}
HEADING = "### reconcile plan"


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    if "`" in text:
        return f"`` {text} ``"
    return f"`{text}`"


def _text(text: str) -> str:
    """Plain cell text: no table break, no HTML from a reason or a message."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


def _change(change: FieldChange) -> str:
    old = format_value(hashing.mask_secrets(change.old))
    new = format_value(hashing.mask_secrets(change.new))
    return f"{_code(change.path)}: {_code(old)} → {_code(new)}"


def _folded(action: Action) -> bool:
    shown = "; ".join(_change(c) for c in action.changes)
    return len(action.changes) > INLINE_CHANGES or len(shown) > INLINE_CHARS


def _why(action: Action) -> str:
    if not action.changes:
        return _text(action.reason)
    if _folded(action):
        count = f"{len(action.changes)} changes" if len(action.changes) > 1 else "1 change"
        return f"{_text(action.reason)} ({count}, below)"
    changes = "; ".join(_change(c) for c in action.changes).replace("|", "\\|")
    return changes if action.kind == Kind.REPLACE else f"{_text(action.reason)}: {changes}"


def _row_order(plan: Plan) -> list[Action]:
    index = {a.id: n for n, a in enumerate(plan.actions)}
    return sorted(plan.actions, key=lambda a: (a.stack, _GROUP.get(a.kind, 2),
                                               a.rollout or a.target, index[a.id]))


def _details(action: Action) -> list[str]:
    # Markdown is not read inside <summary>: the name goes in <code> (names are [a-z0-9.-]).
    lines = [f"<details><summary><code>{_text(action.target)}</code>: "
             f"{len(action.changes)} changes</summary>", ""]
    lines += [f"- {_change(c)}" for c in action.changes]
    return [*lines, "", "</details>", ""]


def _stack_tables(plan: Plan) -> list[str]:
    lines: list[str] = []
    for stack, rows in groupby(_row_order(plan), key=lambda a: a.stack):
        actions = list(rows)
        lines += [f"#### Stack {_code(stack) if stack else '(none)'}", "",
                  "| | Action | Target | Why |", "|---|---|---|---|"]
        lines += [f"| {_SYMBOL[a.kind]} | {a.kind} | {_code(a.target)} | {_why(a)} |"
                  for a in actions]
        lines.append("")
        for a in actions:
            if a.changes and _folded(a):
                lines += _details(a)
    return lines


def _lists(plan: Plan) -> list[str]:
    lines: list[str] = []
    if plan.waiting:
        lines += ["**Waiting** (not created or started yet):", ""]
        lines += [f"- {'✗' if w.failed else '…'} {_code(w.name)}: {_text(w.reason)}"
                  for w in plan.waiting]
        lines.append("")
    if plan.orphans:
        names = ", ".join(_code(n) for n in plan.orphans)
        lines += [f"**Orphans** (kept; use `--prune` to remove): {names}", ""]
    if plan.unchanged:
        lines += [f"**Unchanged:** {', '.join(_code(n) for n in plan.unchanged)}", ""]
    if plan.warnings:
        lines += ["**Warnings** (allowed, but they give the container part of the host):", ""]
        lines += [f"- ⚠ {_code(f'{w.file}:{w.line}:{w.column}')}: {_text(w.message)}"
                  for w in plan.warnings]
        lines.append("")
    return lines


def render_markdown(plan: Plan) -> str:
    """The comment: heading, summary line, a table per stack, then the lists."""
    lines = [HEADING, "", f"**{summary_line(plan)}**", ""]
    lines += _stack_tables(plan)
    lines += _lists(plan)
    return "\n".join(lines).rstrip("\n") + "\n"
