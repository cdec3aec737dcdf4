"""`LoopView`: what the API may know and do of a running loop, from any thread.

The loop tells it, without blocking, of each event (kept in an `EventRing`) and of each
convergence (`Published`: status, desired state, observation, backoff). Reads are answered
from the last publication; what needs the host now (logs, stats, the dry-run plan, actions)
goes through an `Operations` driver of its own, as a second CLI process would, so the
loop's driver is never shared between threads. Actions take one lock, one at a time.
Everything returned is JSON-able and has env values and URL passwords masked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from reconciler.api.feed import ClientQueue, EventRing, FeedEvent
from reconciler.api.loghub import LogHub
from reconciler.drivers.base import ContainerStats, FullDriver, LogLine
from reconciler.engine.wake import Wake
from reconciler.loop.control import Loop, Published
from reconciler.loop.intents import clear_stopped, mark_stopped, user_stopped
from reconciler.loop.telemetry import Telemetry, TelemetrySnapshot
from reconciler.model.errors import NotFound
from reconciler.model.hashing import mask_secrets
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.model.records import asdict, replace
from reconciler.planner.plan import PlanOptions
from reconciler.planner.plan import plan as make_plan
from reconciler.planner.render import plan_to_dict, render_text
from reconciler.support.lock import decision_lock

Verb = Literal["stop", "start", "restart"]
ACT_WAIT = 10.0  # seconds an action's answer waits for the loop to have seen it


class LoopView:
    def __init__(self, ops: FullDriver, state_dir: Path,
                 wake: Callable[[Wake], None] = lambda w: None, *, ring: EventRing | None = None
                 ) -> None:
        """`ops`: a driver for this view alone; `wake`: how to wake the loop."""
        self.ops, self.state_dir, self._wake = ops, state_dir, wake
        self.events = ring or EventRing()
        self.log_hub = LogHub(lambda name: self.ops.logs(name, follow=True, tail=0))
        self._published: Published | None = None
        self._cond = threading.Condition()
        self.started_at = time.time()
        self._telemetry = Telemetry()  # the loop's own once attached (of); empty before

    @classmethod
    def of(cls, loop: Loop, ops: FullDriver) -> LoopView:
        """A view attached to `loop`: hears its events and publications."""
        view = cls(ops, loop.state_dir, loop.wakes.put)
        loop.event_listeners.append(view.on_event)
        loop.publish_listeners.append(view.on_publish)
        view._telemetry = loop.telemetry
        return view

    # -- fed by the loop (its threads; must not block) --

    def on_event(self, kind: str, name: str, attrs: dict[str, Any]) -> None:
        self.events.append(kind, name, mask_secrets(dict(attrs)))

    def on_publish(self, published: Published) -> None:
        with self._cond:
            self._published = published
            self._cond.notify_all()

    # -- reads --

    @property
    def published(self) -> Published | None:
        """The last publication; None until the loop converged once."""
        return self._published

    def status(self) -> dict[str, Any]:
        """The loop's status document (as `reconcile status -o json`), or {} before the
        first convergence."""
        p = self._published
        return mask_secrets(p.status) if p else {}

    def stacks(self) -> list[dict[str, Any]]:
        """Per stack: name, source file, revision, last result and last error."""
        p = self._published
        if p is None:
            return []
        from reconciler.api.present import stack_rows

        return stack_rows(p.status)

    def containers(self, usage: bool = True) -> list[dict[str, Any]]:
        """Per container, observed now through the driver (as `ps` does) with the loop's
        view on top: state (backoff, gave-up, user-stopped), health from its checks,
        restarts, backoff, ports, addresses, limits, and with `usage` cpu/memory/pids of
        the running ones."""
        from reconciler.api.present import container_row

        p = self._published
        loop_rows = p.status.get("containers", {}) if p else {}
        stopped = user_stopped(self.state_dir)
        rows = []
        for seen in sorted(self._observe().containers, key=lambda c: c.name):
            stats = self._usage(seen) if usage else None
            rows.append(container_row(seen, loop_rows.get(seen.name), stats,
                                      seen.name in stopped))
        return rows

    def _observe(self) -> Observed:
        p = self._published
        return self.ops.observe(p.scope if p else None)

    def container(self, name: str) -> dict[str, Any]:
        """One row of `containers()`; NotFound when the loop does not manage `name`."""
        seen = self.find(name)
        from reconciler.api.present import container_row

        p = self._published
        loop_row = p.status.get("containers", {}).get(name) if p else None
        return container_row(seen, loop_row, self._usage(seen),
                             name in user_stopped(self.state_dir))

    def find(self, name: str) -> ObservedContainer:
        """The container observed now; NotFound unless it is one of the loop's stacks'."""
        for seen in self._observe().containers:
            if seen.name == name:
                return seen
        raise NotFound(name, "no such container managed by this loop")

    def _usage(self, seen: ObservedContainer) -> ContainerStats | None:
        if seen.state != "running":
            return None
        try:
            return self.ops.stats(seen.name)
        except Exception:  # a container that just died: no usage, not an error
            return None

    def telemetry(self) -> TelemetrySnapshot:
        """What the loop counted about itself (for /metrics): a copy, taken now."""
        return self._telemetry.snapshot()

    # -- events --

    def events_since(self, last_id: int | None, limit: int | None = None) -> list[FeedEvent]:
        """Kept events (the last 1000) after `last_id`, oldest first."""
        return self.events.since(last_id, limit)

    def subscribe(self, last_id: int | None
                  ) -> tuple[list[FeedEvent], ClientQueue[FeedEvent]]:
        """The kept events after `last_id` and a bounded queue of the next ones; call
        `unsubscribe` when done."""
        return self.events.subscribe(last_id)

    def unsubscribe(self, reader: ClientQueue[FeedEvent]) -> None:
        self.events.unsubscribe(reader)

    # -- the host, now --

    def logs(self, name: str, follow: bool, tail: int | None,
             since: float | None = None) -> Iterator[LogLine]:
        """The container's output through the driver (blocking while following)."""
        self.find(name)
        return self.ops.logs(name, follow=follow, tail=tail, since=since)

    def follow_logs(self, name: str, size: int) -> ClientQueue[LogLine]:
        """A bounded queue of the container's new lines, shared reader (loghub.py); call
        `unfollow_logs` when done."""
        self.find(name)
        return self.log_hub.subscribe(name, size)

    def unfollow_logs(self, name: str, queue: ClientQueue[LogLine]) -> None:
        self.log_hub.unsubscribe(name, queue)

    def stats(self, name: str) -> dict[str, Any]:
        """One sample of cpu, memory and pids."""
        self.find(name)
        return asdict(self.ops.stats(name))

    def plan(self) -> dict[str, Any]:
        """The dry-run plan of the watched files against the host now (the plan JSON
        document plus its text), secrets masked as the renderers mask them."""
        p = self._published
        if p is None:
            return {"ready": False}
        fresh = self._observe()
        health = {c.name: c.health for c in p.observed.containers}
        observed = Observed(tuple(replace(c, health=health.get(c.name, c.health))
                                  for c in fresh.containers), fresh.images, fresh.volumes)
        options = PlanOptions(prune=p.prune, scope=p.scope, now=time.time(),
                              not_before=dict(p.not_before),
                              user_stopped=user_stopped(self.state_dir))
        plan = make_plan(p.desired, observed, options)
        doc = mask_secrets(plan_to_dict(plan))
        doc["text"] = render_text(plan)
        return {"ready": True, **doc}

    # -- actions --

    def apply(self, wait: float = 60.0) -> dict[str, Any]:
        """Wake the loop to converge now; wait (up to `wait` s) for a convergence that began
        after this call, and say how it went."""
        asked = time.time()
        self._wake(Wake("intent", "api", asked))
        if not self._wait_converged(asked, wait):
            return {"converged": False, "queued": True}
        p = self._published
        status = p.status if p else {}
        return {"converged": True, "last_error": status.get("last_error", ""),
                "stacks": self.stacks(), "ok": not status.get("last_error")}

    def _converged_since(self, asked: float) -> bool:
        p = self._published
        return p is not None and p.status.get("converge_began", 0.0) >= asked

    def act(self, verb: Verb, name: str) -> dict[str, Any]:
        """stop / start / restart one container, as `reconcile stop|start` do beside a
        loop: the user-stopped marker first on stop (so the loop never undoes it), removed
        after a start (so the loop's policy applies again). The loop decides nothing
        meanwhile (decision_lock)."""
        self.find(name)
        with decision_lock(self.state_dir):
            if verb in ("stop", "restart"):
                mark_stopped(self.state_dir, name)
                self.ops.stop(name)
            if verb in ("start", "restart"):
                self.ops.start(name)
                clear_stopped(self.state_dir, name)
        done = time.time()
        self._wake(Wake("intent", name, done))
        # Answer once the loop has seen it, so a read right after shows the new state.
        seen = self._wait_converged(done, ACT_WAIT)
        return {"name": name, "action": verb, "done": True, "loop_saw_it": seen}

    def _wait_converged(self, since: float, wait: float) -> bool:
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._converged_since(since):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True
