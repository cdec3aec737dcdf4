"""Commands that read stack files: validate, plan, apply, down."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli import settle, settled
from reconciler.cli.context import Context
from reconciler.engine.planning import make_plan, scope_of
from reconciler.model.actions import Kind, Plan, Waiting
from reconciler.model.desired import Desired
from reconciler.model.errors import ReconcileError, SpecError
from reconciler.planner.plan import PlanOptions
from reconciler.planner.render import render_json, render_text
from reconciler.support.gcpause import paused_gc
from reconciler.support.lock import state_lock
from reconciler.support.logsetup import logger

if TYPE_CHECKING:  # the executor only for apply and down, not for plan and validate
    from reconciler.engine.execute import ActionEvent, ExecutionResult


def render(plan: Plan, output: str, color: bool) -> str:
    if output == "json":
        return render_json(plan)
    if output == "markdown":
        from reconciler.planner.markdown import render_markdown  # CI comments only

        return render_markdown(plan)
    return render_text(plan, color=color)


def _paths(ctx: Context) -> list[str]:
    """The stack inputs: positional paths, or `-f` Compose files; at least one."""
    paths: list[str] = ctx.args.paths
    if not paths and not getattr(ctx.args, "compose_files", None):
        raise ReconcileError(f"{ctx.args.command} needs stack files, Compose files (-f) "
                             "or folders")
    return paths


def _load(ctx: Context, paths: list[str]) -> Desired:
    """The stacks, for a command that ends when it has used them. What loading left (a
    tree per input file, the stacks) lives to the end of the command: frozen out of the
    collector's generations, it is not walked again at each collection, which for a
    500-service Compose file cost a plan ~60 ms (bench/REPORT.md, "Compose file");
    `dispatch` unfreezes them when the command ends. Frozen before the collector resumes:
    re-enabled first, it would walk them all once more, at the next allocation."""
    from reconciler.spec.stacks import load_stacks  # not for `down STACK` (~20 ms)

    with paused_gc():
        desired = load_stacks(paths, ctx.schema_cache, ctx.compose)
        gc.freeze()
    return desired


def cmd_validate(ctx: Context) -> int:
    if ctx.args.output != "text":
        return _validate_report(ctx)
    desired = _load(ctx, _paths(ctx))
    for warning in desired.warnings():  # on stderr, like errors; the exit code stays 0
        print(warning, file=sys.stderr)
    names = ", ".join(s.name for s in desired.stacks) or "no stacks"
    count = len(desired.containers())
    ctx.out(f"valid: {names} ({count} container(s))")
    return 0


def _validate_report(ctx: Context) -> int:
    """`validate -o json|sarif`: every problem as data on stdout; exit 3 when invalid."""
    from reconciler import __version__
    from reconciler.spec.report import validation_json, validation_sarif
    from reconciler.spec.stacks import risks_of_sound_files

    desired: Desired | None = None
    try:
        desired = _load(ctx, _paths(ctx))
        problems = list(desired.warnings())
    except SpecError as err:  # + the warnings of the files that are fine on their own
        problems = sorted({*err.problems, *risks_of_sound_files(
            _paths(ctx), ctx.schema_cache, ctx.compose)})
    if ctx.args.output == "sarif":
        ctx.out(validation_sarif(problems, Path.cwd(), __version__))
    else:
        ctx.out(validation_json(desired, problems))
    return SpecError.exit_code if any(p.severity == "error" for p in problems) else 0


def plan_options(desired: Desired, prune: bool, state_dir: Path | None = None) -> PlanOptions:
    from reconciler.loop.intents import user_stopped  # `reconcile stop` is honoured by apply too

    stopped = user_stopped(state_dir) if state_dir is not None else frozenset()
    return PlanOptions(prune=prune, scope=scope_of(desired), now=time.time(),
                       user_stopped=stopped)


def cmd_plan(ctx: Context) -> int:
    # every input is checked before the host is read
    desired = _load(ctx, _paths(ctx))
    options = plan_options(desired, ctx.args.prune, ctx.state_dir)
    if ctx.args.out is not None:
        from reconciler.cli.saved import plan_and_save

        current = plan_and_save(ctx, desired, options, ctx.args.out)
    else:
        current = make_plan(desired, ctx.driver, options)
    ctx.out(render(current, ctx.args.output, ctx.color))
    if ctx.args.detailed_exitcode and not current.empty:
        return 2
    return 0


def _print_event(ctx: Context) -> Callable[[ActionEvent], None]:
    """Progress on stderr: one line per finished action (starts are implied)."""

    def on_event(event: ActionEvent) -> None:
        what = f"{event.action.kind} {event.action.target}"
        if event.status == "succeeded":
            logger().info(what, seconds=round(event.duration, 3))
        elif event.status == "failed":
            logger().error(what, error=event.error)
        elif event.status == "skipped":
            logger().warning(what, skipped=event.error)

    return on_event


def _result_json(results: list[ExecutionResult]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for result in results:
        for outcome in result.outcomes:
            rows.append({"id": outcome.action.id, "status": outcome.status,
                         "error": outcome.error, "seconds": round(outcome.duration, 3)})
    return rows


def cmd_apply(ctx: Context) -> int:
    if ctx.args.saved_plan is not None:
        return _apply_saved(ctx)
    if not ctx.args.paths and not ctx.args.compose_files:
        raise ReconcileError("apply needs stack files, Compose files (-f) or folders, or "
                             "--plan FILE")
    found = settled.key_for(list(ctx.words)) if ctx.injected_driver is None else None
    key = found[1] if found is not None else None
    with settle.window(ctx.state_dir) as load_log:
        desired = _load(ctx, _paths(ctx))
    options = plan_options(desired, ctx.args.prune, ctx.state_dir)
    if ctx.args.dry_run:
        ctx.out(render(make_plan(desired, ctx.driver, options), ctx.args.output, ctx.color))
        return 0
    text = ctx.args.output == "text"
    told: set[tuple[str, str]] = set()

    def on_plan(plan: Plan, attempt: int) -> None:
        if text and (attempt == 0 or not plan.empty):
            ctx.out(render_text(plan, color=ctx.color))
        if not plan.empty:
            logger()  # set up now (structlog on a terminal): not on the executor's first event
        for waiting in plan.waiting:  # each new reason once: the wait is visible
            if (waiting.name, waiting.reason) not in told and not waiting.failed:
                told.add((waiting.name, waiting.reason))
                logger().info(f"{waiting.name} {waiting.reason}")

    from reconciler.engine.converge import converge
    from reconciler.spec.units import parse_duration

    wait = parse_duration(ctx.args.wait_timeout)
    with state_lock(ctx.state_dir, on_wait=lambda pid: logger().info("waiting for lock", pid=pid)):
        done = converge(desired, ctx.driver, options, parallelism=ctx.args.parallelism,
                        on_plan=on_plan, on_event=_print_event(ctx), wait=wait)
        if key is not None and done.ok and not done.unmet:  # the next no-op: cli/settled.py
            settle.settle(ctx, key, load_log, desired,
                           lambda: plan_options(desired, ctx.args.prune, ctx.state_dir))
    if not text:
        doc = json.loads(render_json(done.first_plan))
        doc["result"] = _result_json(done.results)
        ctx.out(json.dumps(doc, indent=2) if ctx.args.output == "json" else
                render(done.first_plan, ctx.args.output, False))
    if done.unmet and all(r.ok for r in done.results):
        raise ReconcileError(_unmet_message(done.unmet, done.timed_out, wait))
    if not done.ok:
        failed = [o for r in done.results for o in r.outcomes if o.status == "failed"]
        for outcome in failed:
            logger().error(f"{outcome.action.id} failed", error=outcome.error)
        raise ReconcileError(f"apply failed: {len(failed)} action(s) failed; run apply again "
                             "to retry once the cause is fixed")
    if text and not done.first_plan.empty:
        ctx.out("Apply complete.")
    return 0


def _apply_saved(ctx: Context) -> int:
    from reconciler.cli import saved
    from reconciler.loop.intents import user_stopped

    doc = saved.read_saved(ctx.args.saved_plan)
    paths = ctx.args.paths if ctx.args.compose_files else saved.saved_paths(doc, ctx.args.paths)
    desired = _load(ctx, paths)
    options = saved.saved_options(doc, user_stopped(ctx.state_dir))
    return saved.apply_saved_plan(ctx, doc, desired, options)


def _unmet_message(unmet: list[Waiting], timed_out: bool, wait: float) -> str:
    """Why apply gave up on depends_on conditions, one container per line."""
    lines = []
    for w in unmet:
        if w.failed:
            lines.append(f"  {w.name}: not created/started: {w.reason}")
        else:
            lines.append(f"  {w.name}: {w.reason}: not met within {wait:g}s (--wait-timeout)")
    head = "apply incomplete: depends_on conditions not met" + (" in time" if timed_out else "")
    return head + "\n" + "\n".join(lines)


def _down_target(ctx: Context, arg: str) -> str:
    """A stack named by its name or by its file."""
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        from reconciler.spec.stacks import load_stacks

        return load_stacks([path], ctx.schema_cache).stacks[0].name
    return arg


def cmd_down(ctx: Context) -> int:
    # `--volumes` is planned too (remove-volume after the containers): the plan is the truth.
    stacks = frozenset(_down_target(ctx, a) for a in ctx.args.stacks)
    options = PlanOptions(prune=True, scope=stacks, now=time.time(),
                          remove_volumes=ctx.args.volumes)
    if ctx.args.dry_run:
        ctx.out(render(make_plan(Desired(), ctx.driver, options), ctx.args.output, ctx.color))
        return 0
    progress = _print_event(ctx)

    def on_event(event: ActionEvent) -> None:
        progress(event)
        if event.status == "succeeded" and event.action.kind == Kind.REMOVE_VOLUME:
            ctx.out(f"removed volume {event.action.target}")

    from reconciler.engine.converge import converge

    with state_lock(ctx.state_dir):
        done = converge(Desired(), ctx.driver, options, on_event=on_event)
    if not done.ok:
        raise ReconcileError("down failed; run it again to retry")
    removed = sum(a.kind == Kind.REMOVE for p in done.plans for a in p.actions)
    ctx.out(f"Removed {removed} container(s) of {', '.join(sorted(stacks))}.")
    return 0


def cmd_run(ctx: Context) -> int:
    from reconciler.loop.control import Loop
    from reconciler.loop.stacks import StackSet
    from reconciler.model.records import replace
    from reconciler.spec.units import parse_duration

    # The loop reads each file on its own: `-f` files are watched one by one, each with the
    # Compose options.
    sources = [Path(p) for p in [*ctx.args.watch, *ctx.args.paths,
                                 *(ctx.args.compose_files or [])]]
    compose = replace(ctx.compose, files=()) if ctx.compose is not None else None
    if not sources:
        raise ReconcileError("run needs --watch DIR or stack files to watch")
    for source in sources:
        if not source.exists():
            raise ReconcileError(f"{source}: no such file or folder")
    loop = Loop(ctx.driver, ctx.state_dir, sources, prune=ctx.args.prune,
                resync=parse_duration(ctx.args.resync), parallelism=ctx.args.parallelism,
                stacks=StackSet(sources, compose=compose))
    from reconciler.cli.serve import run_serving

    return run_serving(ctx, loop)


SPEC_HANDLERS: dict[str, Callable[[Context], int]] = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "down": cmd_down,
    "run": cmd_run,
}


def dispatch(ctx: Context) -> int:
    command = ctx.args.command
    from reconciler.cli.remote import remote_handler  # a running loop answers these itself

    handler = remote_handler(ctx) or SPEC_HANDLERS.get(command) or \
        _other_handlers(command).get(command)
    if handler is None:
        raise ReconcileError(f"unknown command {command!r}")
    try:
        return handler(ctx)
    finally:
        gc.unfreeze()  # what _load froze is collectable again (main() runs in tests too)


def _other_handlers(command: str) -> Mapping[str, Callable[[Context], int]]:
    """Each group's module only for its own commands: `apply` imports none of them."""
    if command == "status":
        from reconciler.cli.status import cmd_status

        return {"status": cmd_status}
    if command == "convert":
        from reconciler.cli.convert import cmd_convert

        return {"convert": cmd_convert}
    if command in ("sync", "history", "rollback"):
        from reconciler.cli import sync  # only then: git, the webhook server

        return sync.HANDLERS
    from reconciler.cli import ops

    return ops.HANDLERS


__all__ = ["SpecError", "dispatch"]
