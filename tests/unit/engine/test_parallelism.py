"""How many actions run at once: --parallelism when given, else what the driver states
(its optional `parallelism` attribute, drivers/base.py), else 4."""

from __future__ import annotations

from pathlib import Path

from reconciler.drivers.journal import JournaledDriver
from reconciler.engine.execute import DEFAULT_PARALLELISM, execute, parallelism_of
from reconciler.model.desired import Desired
from reconciler.model.records import replace
from reconciler.planner.plan import plan
from tests.fakes import InMemoryDriver
from tests.plan_fixtures import BASE_IMAGE, base_stack, container


class EngineLikeDriver(InMemoryDriver):
    """States that it runs many calls well at once, as the docker driver does."""

    parallelism = 6


def test_the_user_wins_then_the_driver_then_the_default() -> None:
    assert parallelism_of(InMemoryDriver()) == DEFAULT_PARALLELISM == 4
    assert parallelism_of(EngineLikeDriver()) == 6
    assert parallelism_of(EngineLikeDriver(), 2) == 2
    assert parallelism_of(EngineLikeDriver(), 0) == 1  # never below one


def test_the_journal_wrapper_passes_the_drivers_preference_on(tmp_path: Path) -> None:
    wrapped = JournaledDriver(EngineLikeDriver(), tmp_path)  # type: ignore[arg-type]
    assert parallelism_of(wrapped) == 6  # type: ignore[arg-type]
    assert parallelism_of(JournaledDriver(InMemoryDriver(), tmp_path)) == 4  # type: ignore[arg-type]


def test_without_a_flag_the_executor_runs_as_many_as_the_driver_states() -> None:
    many = [container(f"c{n}", BASE_IMAGE) for n in range(12)]
    stack = replace(base_stack(), containers=tuple(many), volumes=())
    driver = EngineLikeDriver(delay=0.2)
    driver.images[BASE_IMAGE.identity] = "sha256:1"  # every create independent
    assert execute(plan(Desired((stack,)), driver.observe()), driver).ok
    # above the default of 4 and never above the driver's 6 (a loaded machine may not
    # line up all six within the hold)
    assert 5 <= driver.max_in_flight <= 6
