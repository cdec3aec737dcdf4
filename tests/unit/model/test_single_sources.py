"""Rules that several stages apply are written once; where a copy must stay (the JSON
schema, a per-kind table) these tests hold it equal to the one source."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from reconciler.model import desired
from reconciler.model.desired import Healthcheck
from reconciler.planner import plan as planner
from reconciler.spec.schema_check import schema
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


def test_normalize_fills_the_models_defaults(tmp_path: Path) -> None:
    spec = container(tmp_path, "    healthcheck: {tcp: {port: 80}}\n")
    assert spec.healthcheck == Healthcheck("tcp", port=80)
    assert (spec.healthcheck.interval, spec.healthcheck.timeout, spec.healthcheck.retries,
            spec.healthcheck.start_period) == (30.0, 30.0, 3, 0.0)  # Docker's  # fmt: skip
    # unset: the image's StopSignal at stop time, else desired.STOP_SIGNAL
    assert (spec.stop_signal, spec.stop_grace_period) == (None, 10.0)
    assert spec.stop_grace_period == desired.STOP_GRACE_PERIOD

