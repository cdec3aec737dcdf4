"""Health checks, run by the control loop (and a waiting apply) from outside the container.

The probe itself runs through the driver (Driver.probe: exec in the container, tcp/http
in its network); this module keeps Docker's state machine and the timing. `starting`
until the first success; `unhealthy` after `retries` consecutive failures, failures during
`start_period` not counted; one success makes it `healthy` again. Each check runs every
`interval` and fails after `timeout`. A change of state wakes the loop, which decides
what to do (on_unhealthy: restart).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping

from reconciler.drivers.base import Driver
from reconciler.engine.wake import Wake
from reconciler.model.desired import ContainerSpec, Healthcheck
from reconciler.model.errors import ReconcileError
from reconciler.model.observed import Health, Observed, ObservedContainer
from reconciler.model.records import replace


def _with_timeout(work: Callable[[], bool], timeout: float) -> bool:
    """A probe that overruns its timeout is a failure; its thread is left to finish."""
    result: list[bool] = []

    def target() -> None:
        try:
            result.append(work())
        except (OSError, ReconcileError):
            result.append(False)

    thread = threading.Thread(target=target, name="health-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def run_probe(driver: Driver, seen: ObservedContainer, check: Healthcheck) -> bool:
    return _with_timeout(lambda: driver.probe(seen, check), check.timeout)


class HealthState:
    """Docker's health state machine for one container run."""

    def __init__(self, check: Healthcheck, started: float) -> None:
        self.check, self.started = check, started
        self.status: Health = "starting"
        self.failures = 0

    def record(self, ok: bool, now: float) -> bool:
        """Feed one probe result; True when the status changed."""
        before = self.status
        if ok:
            self.failures, self.status = 0, "healthy"
        elif now - self.started >= self.check.start_period or self.status == "healthy":
            self.failures += 1
            if self.failures >= self.check.retries:
                self.status = "unhealthy"
        return self.status != before


class _Prober(threading.Thread):
    def __init__(self, driver: Driver, seen: ObservedContainer, check: Healthcheck,
                 wakes: queue.Queue[Wake]) -> None:
        super().__init__(name=f"health-{seen.name}", daemon=True)
        self.driver, self.seen, self.check, self.wakes = driver, seen, check, wakes
        self.state = HealthState(check, seen.started_at or time.time())
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.check.interval):
            ok = run_probe(self.driver, self.seen, self.check)
            if self.halt.is_set():
                return
            if self.state.record(ok, time.time()):
                self.wakes.put(Wake("health", self.seen.name, time.time()))


class HealthMonitor:
    """One prober thread per running container that has a healthcheck."""

    def __init__(self, driver: Driver, wakes: queue.Queue[Wake]) -> None:
        self.driver, self.wakes = driver, wakes
        self._probers: dict[str, _Prober] = {}

    def sync(self, observed: Observed, specs: Mapping[str, ContainerSpec]) -> None:
        live = set()
        for seen in observed.containers:
            spec = specs.get(seen.name)
            check = None if spec is None else spec.healthcheck or seen.healthcheck
            if check is None or seen.state != "running" or seen.pid is None:
                continue
            live.add(seen.name)
            prober = self._probers.get(seen.name)
            same = prober is not None and prober.check == check and \
                (prober.seen.pid, prober.seen.started_at) == (seen.pid, seen.started_at)
            if not same:
                self._halt(seen.name)
                self._probers[seen.name] = _Prober(self.driver, seen, check, self.wakes)
                self._probers[seen.name].start()
        for name in set(self._probers) - live:
            self._halt(name)

    def overlay(self, observed: Observed) -> Observed:
        """The observed state with the health the probes found (for this run of each)."""
        def health(seen: ObservedContainer) -> ObservedContainer:
            prober = self._probers.get(seen.name)
            if prober is None or seen.state != "running":
                return seen
            if (prober.seen.pid, prober.seen.started_at) != (seen.pid, seen.started_at):
                return replace(seen, health="starting")
            return replace(seen, health=prober.state.status)

        return replace(observed, containers=tuple(health(c) for c in observed.containers))

    def _halt(self, name: str) -> None:
        prober = self._probers.pop(name, None)
        if prober is not None:
            prober.halt.set()

    def stop(self) -> None:
        for name in list(self._probers):
            self._halt(name)
