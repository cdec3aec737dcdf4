"""`plan --out FILE` and `apply --plan FILE`: reviewed plans, applied exactly (docs/gitops.md)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from reconciler.cli.context import Context
from reconciler.engine.converge import scope_of
from reconciler.engine.execute import ActionEvent
from reconciler.model.actions import Plan
from reconciler.model.desired import Desired
from reconciler.model.errors import ReconcileError, StalePlan
from reconciler.planner.plan import PlanOptions, plan
from reconciler.planner.render import render_text
from reconciler.planner.saved import saved_plan, saved_section
from reconciler.support.lock import state_lock
from reconciler.support.logsetup import logger


def plan_and_save(ctx: Context, desired: Desired, options: PlanOptions, out: Path) -> Plan:
    """Plan as `plan` does, and write the saved plan (mode 0600: it names the host's state)."""
    observed = ctx.driver.observe(options.scope)
    current = plan(desired, observed, options)
    paths = [str(Path(p).absolute()) for p in ctx.args.paths]
    doc = saved_plan(current, desired, observed, scope=options.scope or scope_of(desired),
                     prune=options.prune, paths=paths, now=options.now)
    _write_private(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return current


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_saved(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReconcileError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise StalePlan(f"{path}: not a saved plan (not JSON)") from None
    try:
        saved_section(doc)
    except StalePlan as exc:
        raise StalePlan(f"{path}: {exc}") from None
    return doc  # type: ignore[no-any-return]


def saved_paths(doc: dict[str, Any], given: list[str]) -> list[str]:
    """The stack files named on the command line, else those the plan was made from."""
    if given:
        return given
    paths = saved_section(doc).get("paths")
    if not isinstance(paths, list) or not paths:
        raise StalePlan("the saved plan names no stack files; give them after --plan FILE")
    return [str(p) for p in paths]


def saved_options(doc: dict[str, Any], user_stopped: frozenset[str]) -> PlanOptions:
    saved = saved_section(doc)
    return PlanOptions(prune=bool(saved.get("prune")), scope=frozenset(saved.get("stacks", [])),
                       now=time.time(), user_stopped=user_stopped)


def apply_saved_plan(ctx: Context, doc: dict[str, Any], desired: Desired,
                     options: PlanOptions) -> int:
    from reconciler.engine.saved import apply_saved, verify_saved

    if ctx.args.dry_run:  # the checks, and the plan that would run
        ctx.out(render_text(verify_saved(doc, desired, ctx.driver, options), color=ctx.color))
        ctx.out("The saved plan still holds (--dry-run: nothing was changed).")
        return 0

    def on_event(event: ActionEvent) -> None:
        what = f"{event.action.kind} {event.action.target}"
        if event.status == "succeeded":
            logger().info(what, seconds=round(event.duration, 3))
        elif event.status in ("failed", "skipped"):
            logger().error(what, error=event.error)

    with state_lock(ctx.state_dir):
        done = apply_saved(doc, desired, ctx.driver, options,
                           parallelism=ctx.args.parallelism, on_event=on_event)
    ctx.out(render_text(done.plan, color=ctx.color))
    if not done.result.ok:
        raise ReconcileError(f"apply failed: {len(done.result.failed)} action(s) failed; "
                             "make a new plan once the cause is fixed")
    if not done.follow_up.empty:  # e.g. a `pull: always` tag moved during the pull
        ids = ", ".join(a.id for a in done.follow_up.actions)
        logger().warning(f"not in the saved plan, so not applied: {ids}; "
                         "plan again to review them")
    ctx.out("Apply complete." if not done.plan.empty else "Nothing to do.")
    return 0
