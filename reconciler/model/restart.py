"""Restart-policy rules that more than one stage applies: the planner (whether to start an
exited container) and the loop (the `gave-up` state it reports)."""

from __future__ import annotations

from reconciler.model.desired import RestartPolicy
from reconciler.model.observed import ObservedContainer


def gave_up(policy: RestartPolicy, seen: ObservedContainer) -> bool:
    """on-failure:N used up its N restarts on a failing exit: left stopped, as Docker does.
    A failing exit is a non-zero (or unknown) code or an OOM kill."""
    if policy.policy != "on-failure" or policy.max_retries is None:
        return False
    if seen.state not in ("exited", "dead"):
        return False
    failed = seen.exit_code != 0 or seen.oom_killed
    return failed and seen.restart_count >= policy.max_retries
