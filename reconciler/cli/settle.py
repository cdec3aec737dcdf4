"""Recording the settled no-op (cli/settled.py answers from it): after a converged apply,
one more observe and plan inside a read log, kept when that plan is a no-op that cannot
depend on the clock; after a build, the same build again, kept when it ran no step."""

from __future__ import annotations

import contextlib
import marshal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.cli import settled
from reconciler.support import readlog
from reconciler.support.atomic import write_bytes

KEEP = 64  # settled records kept per state dir


def window(state_dir: Path) -> contextlib.AbstractContextManager[readlog.ReadLog]:
    """A read log over the state dir; its cache (entries derived from what was read, such
    as the stack cache) is neither logged nor refused."""
    return readlog.recording(ignore=(str(state_dir / "cache"),))


def settle(ctx: Any, key: str, load_log: readlog.ReadLog, desired: Any,
           options_now: Callable[[], Any]) -> bool:  # fmt: skip
    """Call with the state lock held. `options_now` makes the apply's PlanOptions afresh
    (they read the user stops). True when a record was kept."""
    from reconciler.planner.plan import plan
    from reconciler.planner.render import render_text

    driver = ctx.fresh_driver()  # no cache of this process: a cold observe, as the next apply's
    with window(ctx.state_dir) as seen:
        options = options_now()
        observed = driver.observe(options.scope)
        current = plan(desired, observed, options)
    if current.actions or current.deferred or current.waiting:
        seen.refuse("changes pending")
    if any(c.state != "running" for c in observed.containers):
        seen.refuse("a container is not running: its plan depends on the clock")
    text = render_text(current, color=ctx.color)
    return store(ctx.state_dir, key, [load_log, seen], text if text.endswith("\n") else text + "\n")


def settle_build(ctx: Any, key: str, request: Any, tags: list[str], digest: str) -> bool:
    """After a build (the state lock held): the same build again through a fresh driver
    without the journal, inside a read log; kept when every step came from the cache and
    made `digest` again. The answer prints the steps, appends the journal's tag events
    and prints the result lines (cli/settled.py)."""
    lines: list[str] = []
    driver = ctx.fresh_driver(journal=False)
    with window(ctx.state_dir) as seen:
        again = driver.build_dockerfile(request, tags, lines.append)
    if again.digest != digest or any(step.ran for step in again.steps):
        seen.refuse("not a rebuild from the cache")
    lines += [f"warning: --build-arg {name} was not used by any ARG" for name in again.unused_args]
    output = "".join(line if line.endswith("\n") else line + "\n" for line in lines if line)
    build = {"digest": digest, "cached": sum(1 for s in again.steps if s.cached), "tags": tags}
    return store(ctx.state_dir, key, [seen], output, build=build)


def store(state_dir: Path, key: str, logs: list[readlog.ReadLog], output: str,
          **extra: Any) -> bool:  # fmt: skip
    """Keep the record when every log is recordable; else drop any earlier one."""
    target = Path(settled.record_path(str(state_dir), key))
    if any(log.unrecordable for log in logs):
        with contextlib.suppress(OSError):
            target.unlink()
        return False
    reads = [[kind, path, sig] for log in logs for (kind, path), sig in log.entries.items()]
    doc = {"format": settled.FORMAT, "reads": reads, "output": output, **extra}
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # not fsynced (two fsyncs cost an apply 4-15 ms on ext4): a record is a cache its
        # reads prove; one lost to a crash is a miss, a torn one too (marshal refuses it)
        write_bytes(target, marshal.dumps(doc), mode=0o600, durable=False)
        _keep_newest(target.parent, KEEP)
        return True
    return False


def _keep_newest(folder: Path, keep: int) -> None:
    """Records of other words, folders or an older reconcile accumulate: keep the newest."""
    records = sorted(folder.glob(f"*{settled.SUFFIX}"), key=lambda p: p.stat().st_mtime_ns,
                     reverse=True)
    for old in records[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
