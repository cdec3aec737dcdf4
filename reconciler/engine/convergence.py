"""What one convergence did: its plans, their results, and what it still waits for."""

from __future__ import annotations

from reconciler.engine.execute import ExecutionResult
from reconciler.model.actions import Plan, Waiting
from reconciler.model.records import field, record


@record
class Convergence:
    plans: list[Plan] = field(default_factory=list)
    results: list[ExecutionResult] = field(default_factory=list)
    # depends_on conditions still unmet when apply stopped waiting (converge_wait)
    unmet: list[Waiting] = field(default_factory=list)
    timed_out: bool = False  # ... because its wait deadline passed

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.unmet

    @property
    def first_plan(self) -> Plan:
        return self.plans[0]
