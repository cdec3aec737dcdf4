"""Rules that several stages apply are written once; where a copy must stay (the JSON
schema, a per-kind table) these tests hold it equal to the one source."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, get_args

import pytest

from reconciler.loop.state import gave_up as loop_gave_up
from reconciler.model import desired
from reconciler.model.desired import ContainerSpec, Healthcheck, ImageSource, RestartPolicy
from reconciler.model.observed import ObservedContainer, State
from reconciler.model.restart import gave_up
from reconciler.planner import plan as planner
from reconciler.spec.schema_check import schema
from reconciler.support.rlimits import ULIMIT_NAMES
from tests.unit.spec.test_normalize import container


def _one_of_keys(node: dict[str, Any]) -> list[str]:
    return [branch["required"][0] for branch in node["oneOf"]]


def test_image_kinds_are_the_models_everywhere() -> None:
    image = schema()["$defs"]["image"]
    assert _one_of_keys(image) == list(desired.IMAGE_KINDS)
    assert set(planner._IMAGE_KIND) == set(desired.IMAGE_KINDS)


def test_health_kinds_and_ulimit_names_match_the_schema() -> None:
    container_props = schema()["$defs"]["container"]["properties"]
    assert _one_of_keys(container_props["healthcheck"]) == list(get_args(desired.HealthKind))
    ulimits = container_props["limits"]["properties"]["ulimits"]["propertyNames"]["enum"]
    assert set(ulimits) == ULIMIT_NAMES


def test_normalize_fills_the_models_defaults(tmp_path: Path) -> None:
    spec = container(tmp_path, "    healthcheck: {tcp: {port: 80}}\n")
    assert spec.healthcheck == Healthcheck("tcp", port=80)
    assert (spec.healthcheck.interval, spec.healthcheck.timeout, spec.healthcheck.retries,
            spec.healthcheck.start_period) == (30.0, 30.0, 3, 0.0)  # Docker's  # fmt: skip
    # unset: the image's StopSignal at stop time, else desired.STOP_SIGNAL
    assert (spec.stop_signal, spec.stop_grace_period) == (None, 10.0)
    assert spec.stop_grace_period == desired.STOP_GRACE_PERIOD


def _spec(policy: RestartPolicy) -> ContainerSpec:
    image = ImageSource(key="i", kind="ref", identity="ref:i", ref="i")
    return ContainerSpec(stack="s", key="c", name="s-c", replica=1, image=image, restart=policy)


STATES: tuple[State, ...] = ("running", "exited", "dead")
POLICIES = (RestartPolicy("on-failure", 2), RestartPolicy("on-failure"), RestartPolicy("always"))


@pytest.mark.parametrize(
    ("state", "code", "oom", "count", "policy"),
    list(itertools.product(STATES, (0, 3, None), (False, True), (1, 2, 3), POLICIES)),
)
def test_planner_and_loop_agree_on_giving_up(
    state: State, code: int | None, oom: bool, count: int, policy: RestartPolicy
) -> None:
    spec = _spec(policy)
    seen = ObservedContainer(name="s-c", stack="s", key="c", labels={}, config_hash="",
                             image_digest="", state=state, exit_code=code, oom_killed=oom,
                             restart_count=count)  # fmt: skip
    expected = (policy.max_retries == 2 and state != "running" and count >= 2
                and (code != 0 or oom))  # fmt: skip
    assert gave_up(policy, seen) is expected
    assert loop_gave_up(seen, spec) is expected
    assert loop_gave_up(seen, None) is False
    if expected:  # the planner leaves a container that gave up
        assert planner._start_reason(spec, seen) is None
