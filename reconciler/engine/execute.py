"""The executor: runs a Plan's actions through a Driver, in dependency order.

It carries no decision logic (Compose's executor is the model): every action maps to fixed
driver calls; independent actions run in parallel on a bounded thread pool; a failed action
skips its transitive dependants and everything else still runs. Re-running reconcile is the
retry.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from queue import SimpleQueue
from typing import Literal, TypeVar

from reconciler.drivers.base import Driver
from reconciler.model.actions import Action, Kind, Plan
from reconciler.model.errors import ReconcileError
from reconciler.model.records import record

EventStatus = Literal["started", "succeeded", "failed", "skipped"]
OutcomeStatus = Literal["ok", "failed", "skipped"]
T = TypeVar("T")
DEFAULT_PARALLELISM = 4  # a driver that states none (the native driver: runc is CPU-bound)


@record(frozen=True)
class ActionEvent:
    action: Action
    status: EventStatus
    error: str | None = None
    duration: float = 0.0  # seconds; set on succeeded / failed
    transferred: int = 0  # bytes an image action moved (as its driver's progress told)


@record(frozen=True)
class ActionOutcome:
    action: Action
    status: OutcomeStatus
    error: str | None = None
    duration: float = 0.0


@record(frozen=True)
class ExecutionResult:
    outcomes: tuple[ActionOutcome, ...] = ()  # in plan order

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    def outcome(self, action_id: str) -> ActionOutcome:
        for o in self.outcomes:
            if o.action.id == action_id:
                return o
        raise KeyError(action_id)


def _require(value: T | None, action: Action) -> T:
    if value is None:
        raise ReconcileError(f"{action.id}: malformed action (missing payload)")
    return value


class Transfer:
    """A driver's image progress `(what, done, total)` summed into bytes: `done` counts up
    per `what` (a layer), so each one's largest value is what it moved."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int | None) -> None:
        self.done[what] = max(done, self.done.get(what, 0))

    @property
    def total(self) -> int:
        return sum(self.done.values())


def run_action(action: Action, driver: Driver, transfer: Transfer | None = None) -> None:
    """The fixed mapping from one action to its driver calls."""
    kind = action.kind
    if kind in (Kind.PULL, Kind.IMPORT, Kind.BUILD):
        driver.ensure_image(_require(action.image, action), transfer)
    elif kind == Kind.CREATE_VOLUME:
        driver.create_volume(_require(action.volume, action))
    elif kind == Kind.REMOVE_VOLUME:
        driver.remove_volume(_require(action.volume, action))
    elif kind == Kind.CREATE:
        driver.create(_require(action.container, action))
        driver.start(action.target)
    elif kind == Kind.START:
        driver.start(action.target)
    elif kind == Kind.RESTART:
        driver.stop(action.target)
        driver.start(action.target)
    elif kind == Kind.CREATE_STOPPED:
        driver.create(_require(action.container, action))
    elif kind == Kind.WAIT_HEALTHY:
        from reconciler.engine.rollout import wait_step  # probes pull in watchdog: lazily

        wait_step(driver, _require(action.container, action), action.remove_on_failure)
    elif kind == Kind.REPLACE:
        spec = _require(action.container, action)
        driver.remove(action.target)  # stop-first: ports and names are freed before create
        driver.create(spec)
        driver.start(spec.name)
    elif kind == Kind.REMOVE:
        driver.remove(action.target)
    else:  # pragma: no cover - every Kind is handled above
        raise ReconcileError(f"{action.id}: unknown action kind {kind}")


Timed = tuple[str | None, float, int]  # error message or None, seconds, bytes moved


def _timed(action: Action, driver: Driver) -> Timed:
    """Run one action; return (error message or None, seconds, bytes). Never raises."""
    began, transfer = time.monotonic(), Transfer()
    try:
        run_action(action, driver, transfer)
    except ReconcileError as exc:
        return str(exc) or type(exc).__name__, time.monotonic() - began, transfer.total
    except Exception as exc:  # a driver bug must not take the other actions down with it
        return (f"unexpected {type(exc).__name__}: {exc}", time.monotonic() - began,
                transfer.total)
    return None, time.monotonic() - began, transfer.total


class _Run:
    """Bookkeeping of one execution; touched only by the calling thread."""

    def __init__(self, plan: Plan, emit: Callable[[ActionEvent], None]) -> None:
        self.actions = {a.id: a for a in plan.actions}
        self.order = [a.id for a in plan.actions]
        self.index = {action_id: n for n, action_id in enumerate(self.order)}
        self.emit = emit
        self.outcomes: dict[str, ActionOutcome] = {}
        self.waiting = {a.id: sum(d in self.actions for d in a.depends_on) for a in plan.actions}
        self.dependants: dict[str, list[str]] = defaultdict(list)
        for a in plan.actions:
            for dep in a.depends_on:
                self.dependants[dep].append(a.id)
        # Plan positions of actions whose dependencies all succeeded: plan order breaks ties.
        self.ready = [self.index[i] for i, n in self.waiting.items() if n == 0]
        heapq.heapify(self.ready)

    def pop_ready(self) -> Action | None:
        return self.actions[self.order[heapq.heappop(self.ready)]] if self.ready else None

    def finish(self, action_id: str, timed: Timed) -> None:
        error, duration, moved = timed
        action = self.actions[action_id]
        status: OutcomeStatus = "ok" if error is None else "failed"
        self.outcomes[action_id] = ActionOutcome(action, status, error, duration)
        self.emit(ActionEvent(action, "succeeded" if error is None else "failed", error,
                              duration, moved))
        if error is None:
            for nxt in self.dependants[action_id]:
                self.waiting[nxt] -= 1
                if self.waiting[nxt] == 0 and nxt not in self.outcomes:
                    heapq.heappush(self.ready, self.index[nxt])
        else:
            self.skip_dependants(action_id, action_id)

    def skip_dependants(self, action_id: str, root: str) -> None:
        for nxt in sorted(self.dependants[action_id], key=self.index.__getitem__):
            if nxt in self.outcomes:
                continue
            message = f"skipped (dependency {root} failed)"
            self.outcomes[nxt] = ActionOutcome(self.actions[nxt], "skipped", message)
            self.emit(ActionEvent(self.actions[nxt], "skipped", message))
            self.skip_dependants(nxt, root)

    def result(self) -> ExecutionResult:
        for action_id in self.order:  # only a dependency cycle leaves anything behind
            if action_id not in self.outcomes:
                message = "skipped (dependency cycle)"
                self.outcomes[action_id] = ActionOutcome(
                    self.actions[action_id], "skipped", message
                )
                self.emit(ActionEvent(self.actions[action_id], "skipped", message))
        return ExecutionResult(tuple(self.outcomes[i] for i in self.order))


def parallelism_of(driver: Driver, asked: int | None = None) -> int:
    """How many actions run at once: what the user asked (--parallelism), else what the
    driver says it runs well (its optional `parallelism` attribute, drivers/base.py), else
    DEFAULT_PARALLELISM."""
    preferred = asked if asked is not None else getattr(driver, "parallelism", None)
    return max(1, preferred) if isinstance(preferred, int) else DEFAULT_PARALLELISM


class _Workers:
    """Up to `limit` threads running `_timed` for the actions handed to them, each finished
    one's id and result back on one queue: what a ThreadPoolExecutor and wait() gave,
    without concurrent.futures (it imports logging: 5-10 ms of every apply and down)."""

    def __init__(self, driver: Driver, limit: int) -> None:
        self.driver, self.limit = driver, limit
        self.todo: SimpleQueue[Action | None] = SimpleQueue()
        self.done: SimpleQueue[tuple[str, Timed | BaseException]] = SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.pending = 0  # handed out, not yet collected

    def submit(self, action: Action) -> None:
        self.pending += 1
        if len(self.threads) < min(self.pending, self.limit):  # a thread when none is free
            thread = threading.Thread(target=self._work, name=f"execute-{len(self.threads)}")
            thread.start()
            self.threads.append(thread)
        self.todo.put(action)

    def _work(self) -> None:
        while (action := self.todo.get()) is not None:
            try:
                self.done.put((action.id, _timed(action, self.driver)))
            except BaseException as exc:  # given to the calling thread, which raises it
                self.done.put((action.id, exc))

    def collect(self) -> list[tuple[str, Timed]]:
        """Blocks until an action finishes; it and any others that finished meanwhile."""
        finished = [self.done.get()]
        while not self.done.empty():
            finished.append(self.done.get())
        self.pending -= len(finished)
        out: list[tuple[str, Timed]] = []
        for action_id, result in finished:
            if isinstance(result, BaseException):
                raise result
            out.append((action_id, result))
        return out

    def close(self) -> None:
        """Lets every thread end once the actions handed out are done; waits for them."""
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()


def execute(
    plan: Plan,
    driver: Driver,
    *,
    parallelism: int | None = None,
    on_event: Callable[[ActionEvent], None] | None = None,
) -> ExecutionResult:
    """Run `plan` through `driver`. Events are emitted from the calling thread only.
    `parallelism`: None for the driver's own (parallelism_of)."""
    run = _Run(plan, on_event or (lambda _event: None))
    limit = parallelism_of(driver, parallelism)
    workers = _Workers(driver, limit)
    try:
        while True:
            while workers.pending < limit and (action := run.pop_ready()):
                run.emit(ActionEvent(action, "started"))
                workers.submit(action)
            if not workers.pending:
                break
            for action_id, timed in sorted(workers.collect(), key=lambda d: run.index[d[0]]):
                run.finish(action_id, timed)
    finally:
        workers.close()
    return run.result()
