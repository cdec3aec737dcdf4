"""A start-first replace (`update: {order: start-first}`) written out as its steps.

Instead of one `replace` action that hides a control loop, the plan holds eight actions in
a chain, so `--dry-run` and a saved plan show every host change and its order:

    create-stopped X.next -> start X.next -> wait-healthy X.next (removed if not healthy)
    -> remove X -> create-stopped X -> start X -> wait-healthy X -> remove X.next

The wait for `X.next` carries `remove_on_failure`: when the new version never becomes
healthy the engine removes it as part of that action's failure, and the executor skips the
rest of the chain, so the old X keeps running untouched. Pure: no I/O, no clock.
"""

from __future__ import annotations

from reconciler.model.actions import Kind
from reconciler.model.desired import ContainerSpec
from reconciler.model.records import replace
from reconciler.model.rollout import deadline_of, next_name
from reconciler.planner.draft import Draft


def is_start_first(draft: Draft, spec: ContainerSpec) -> bool:
    return draft.kind == Kind.REPLACE and spec.update_order == "start-first"


def start_first_steps(replace_draft: Draft, spec: ContainerSpec) -> list[Draft]:
    """The chain of steps that stands for `replace_draft`; the first carries its changes
    (and takes its dependencies), the last is what dependants of the container wait for."""
    name, temp = spec.name, replace(spec, name=next_name(spec.name))
    within = f"healthy within {deadline_of(spec):g}s"
    rows: list[tuple[Kind, ContainerSpec | None, str, str]] = [
        (Kind.CREATE_STOPPED, temp, temp.name, f"start-first replace of {name}"),
        (Kind.START, temp, temp.name, f"the new version beside the old {name}"),
        (Kind.WAIT_HEALTHY, temp, temp.name,
         f"{within}; removed if not healthy, the old {name} keeps running"),
        (Kind.REMOVE, None, name, f"the old version: {temp.name} is healthy"),
        (Kind.CREATE_STOPPED, spec, name, "the new version under its own name"),
        (Kind.START, spec, name, "the new version under its own name"),
        (Kind.WAIT_HEALTHY, spec, name, f"{within}; {temp.name} serves until then"),
        (Kind.REMOVE, None, temp.name, f"the temporary copy: {name} is healthy"),
    ]
    steps: list[Draft] = []
    for kind, payload, target, reason in rows:
        step = Draft(f"{kind}:{target}", kind, target, reason, spec.stack,
                     container=payload, rollout=name)
        if steps:
            step.depends_on.add(steps[-1].id)
        steps.append(step)
    steps[0].changes = replace_draft.changes
    steps[2].remove_on_failure = True
    return steps
