"""The dashboard's HTML, from the API's JSON rows (pure: no view, no I/O).

Every value from a row goes through `esc` (html.escape, quotes too) or a number format;
nothing else is interpolated. Rows arrive with secrets masked (LoopView masks env values
and URL passwords), and no field that carries env or command lines is shown at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from string import Template
from typing import Any

STATE_CLASS = {  # state (as the loop sees it) -> colour class of its pill
    "running": "ok", "healthy": "ok", "exited": "idle", "created": "idle",
    "user-stopped": "user", "paused": "user", "backoff": "warn", "starting": "warn",
    "restarting": "warn", "unhealthy": "bad", "dead": "bad", "gave-up": "bad",
    "unknown": "idle", "none": "idle",
}
RESULT_CLASS = {"applied": "ok", "pending": "warn", "invalid": "bad", "failed": "bad",
                "deleted": "idle"}
KIND_CLASS = {"pull": "info", "import": "info", "build": "info", "create": "ok",
              "create-stopped": "ok", "create-volume": "ok", "start": "info",
              "restart": "warn", "wait-healthy": "info", "replace": "warn", "remove": "bad",
              "remove-volume": "bad"}
LIVE = frozenset({"running", "paused", "backoff", "restarting", "unhealthy", "starting"})


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def pill(text: object, css: str) -> str:
    return f'<span class="pill {esc(css)}">{esc(text)}</span>'


def size(n: float | None) -> str:
    """Bytes in binary units, as stacks write limits (256Mi)."""
    if n is None:
        return "–"
    for unit, scale in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}".replace(".0", "")
    return f"{int(n)}B"


def meter(label: str, used: float | None, limit: float | None, text: str) -> str:
    """A bar of `used` against `limit` (no limit: an outline bar, the value only)."""
    if used is None:
        return f'<div class="meter empty" title="{esc(label)}"><span>{esc(label)} –</span></div>'
    share = min(1.0, used / limit) if limit else 0.0
    level = "bad" if share >= 0.9 else "warn" if share >= 0.7 else "ok"
    # The width is set by app.js from data-share: the page's CSP allows no inline style.
    return (f'<div class="meter {level}{"" if limit else " unlimited"}" '
            f'title="{esc(label)}: {esc(text)}"><i data-share="{share * 100:.0f}"></i>'
            f'<span>{esc(label)} {esc(text)}</span></div>')


def usage_meters(row: Mapping[str, Any]) -> str:
    usage = row.get("usage") or {}
    limits = row.get("limits") or {}
    cpu, cpus = usage.get("cpu_percent"), limits.get("cpus")
    cpu_limit = float(cpus) * 100 if cpus else None
    cpu_text = "–" if cpu is None else f"{cpu:.1f}%" + (f" / {cpu_limit:g}%" if cpu_limit else "")
    mem = usage.get("memory_usage")
    mem_limit = limits.get("memory") or usage.get("memory_limit")
    mem_text = "–" if mem is None else size(mem) + (f" / {size(mem_limit)}" if mem_limit else "")
    return meter("cpu", cpu, cpu_limit, cpu_text) + meter("mem", mem, mem_limit, mem_text)


def verbs_for(state: str) -> tuple[str, ...]:
    """The buttons that make sense: a live container restarts or stops, a down one starts."""
    return ("restart", "stop") if state in LIVE else ("start",)


def container_row(row: Mapping[str, Any]) -> str:
    name, state, health = row["name"], row.get("state") or "unknown", row.get("health")
    ports = ", ".join(str(p) for p in row.get("ports") or []) or "–"
    health_cell = pill(health, STATE_CLASS.get(str(health), "idle")) \
        if health and health != "none" else '<span class="dim">–</span>'
    buttons = "".join(
        f'<button type="button" class="act" data-verb="{v}" data-name="{esc(name)}">{v}</button>'
        for v in verbs_for(str(state)))
    exits = ",".join(esc(x) for x in (row.get("backoff") or {}).get("last_exits") or [])
    exits_note = f'<div class="dim small">exits {exits}</div>' if exits else ""
    return (
        f'<tr class="container" data-name="{esc(name)}" data-state="{esc(state)}">'
        f'<td><a href="#{esc(name)}" class="name" data-name="{esc(name)}">'
        f'{esc(row.get("key") or name)}</a>'
        f'<div class="dim small">{esc(row.get("image") or "")}</div></td>'
        f'<td data-field="state">{pill(state, STATE_CLASS.get(str(state), "idle"))}</td>'
        f'<td data-field="health">{health_cell}</td>'
        f'<td data-field="restarts" class="num">{esc(row.get("restarts", 0))}'
        f'{exits_note}</td>'
        f'<td class="small">{esc(ports)}</td>'
        f'<td class="usage">{usage_meters(row)}</td>'
        f'<td class="buttons">{buttons}</td></tr>')


def stacks_html(stacks: Iterable[Mapping[str, Any]], rows: Iterable[Mapping[str, Any]]) -> str:
    by_stack: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_stack.setdefault(str(row.get("stack") or ""), []).append(row)
    known = {str(s["name"]): s for s in stacks}
    cards = [overview(known.values(), [r for group in by_stack.values() for r in group])]
    for name in sorted(set(known) | set(by_stack)):
        stack = known.get(name, {"name": name, "result": "orphan"})
        cards.append(stack_card(stack, by_stack.get(name, [])))
    if len(cards) == 1:
        cards.append('<p class="empty card">No stacks are watched yet.</p>')
    return "".join(cards)


def overview(stacks: Iterable[Mapping[str, Any]], rows: list[Mapping[str, Any]]) -> str:
    """The tiles above the stacks: how many stacks, how many containers up, how many not."""
    stacks = list(stacks)
    up = sum(1 for r in rows if r.get("state") == "running")
    trouble = sum(1 for r in rows if STATE_CLASS.get(str(r.get("state"))) in ("warn", "bad")
                  or r.get("health") == "unhealthy")
    tiles = [("stacks", len(stacks), "ok" if all(s.get("result") == "applied" for s in stacks)
              else "warn"),
             ("running", f"{up}/{len(rows)}", "ok" if up == len(rows) else "warn"),
             ("need attention", trouble, "bad" if trouble else "ok"),
             ("restarts", sum(int(r.get("restarts") or 0) for r in rows), "idle")]
    return '<div class="tiles">' + "".join(
        f'<div class="tile {css}" data-tile="{esc(label)}"><b>{esc(value)}</b>'
        f'<span>{esc(label)}</span></div>' for label, value, css in tiles) + "</div>"


def stack_card(stack: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> str:
    result = str(stack.get("result") or "")
    error = stack.get("last_error")
    body = "".join(container_row(r) for r in rows) or \
        '<tr><td colspan="7" class="empty">no containers</td></tr>'
    return (
        f'<section class="card stack" data-stack="{esc(stack["name"])}">'
        f'<header><h2>{esc(stack["name"])}</h2>{pill(result, RESULT_CLASS.get(result, "idle"))}'
        f'<span class="dim small mono">{esc((stack.get("revision") or "")[:12])}</span>'
        f'<span class="dim small grow right">{esc(stack.get("source") or "")}</span></header>'
        + (f'<p class="error">{esc(error)}</p>' if error else "") +
        '<table><thead><tr><th>container</th><th>state</th><th>health</th>'
        '<th class="num">restarts</th><th>ports</th><th>cpu / memory</th><th></th></tr></thead>'
        f'<tbody>{body}</tbody></table></section>')


def plan_html(doc: Mapping[str, Any]) -> str:
    if not doc.get("ready", True):
        return '<p class="empty">The loop has not converged yet.</p>'
    actions = doc.get("actions") or []
    items = [action_item(a) for a in actions]
    items += [f'<li class="action"><span class="pill warn">waiting</span> <b>{esc(w["name"])}'
              f'</b> <span class="reason">{esc(w.get("reason"))}</span></li>'
              for w in doc.get("waiting") or []]
    summary = (doc.get("summary") or {}).get("text") or ""
    if not items:
        return (f'<p class="uptodate">✓ In sync: nothing to do. <span class="dim">'
                f'{esc(summary)}</span></p>')
    return (f'<p class="summary">{esc(summary)}</p><ol class="plan">{"".join(items)}</ol>')


def action_item(action: Mapping[str, Any]) -> str:
    kind = str(action.get("kind") or "")
    changes = "".join(
        f'<tr><td class="mono">{esc(c.get("path"))}</td>'
        f'<td class="old mono">{esc(_short(c.get("old")))}</td>'
        f'<td class="arrow">→</td><td class="new mono">{esc(_short(c.get("new")))}</td></tr>'
        for c in action.get("changes") or [])
    return (
        f'<li class="action" data-kind="{esc(kind)}" data-target="{esc(action.get("target"))}">'
        f'{pill(kind, KIND_CLASS.get(kind, "idle"))} <b>{esc(action.get("target"))}</b> '
        f'<span class="reason">{esc(action.get("reason"))}</span>'
        + (f'<table class="changes">{changes}</table>' if changes else "") + '</li>')


def _short(value: object, limit: int = 80) -> str:
    text = "–" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _template() -> Template:
    from importlib import resources

    return Template(resources.files(__package__).joinpath("page.html").read_text())


PAGE = _template()  # package data: page.html


def page(*, host: str, pid: object, version: str, stacks: str, plan: str) -> str:
    """The whole page; `stacks` and `plan` are already-escaped fragments of this module."""
    return PAGE.substitute(host=esc(host), pid=esc(pid), version=esc(version),
                           stacks=stacks, plan=plan)
