"""Planner properties the rendered text does not show: dependencies, payloads, scope,
ownership, determinism."""

from __future__ import annotations

import random

import pytest

from reconciler.model import labels
from reconciler.model.actions import Kind
from reconciler.model.desired import Dependency, Desired, Mount, VolumeSpec
from reconciler.model.observed import Observed
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan
from tests.fakes import digest_of, observed_from_spec
from tests.plan_fixtures import (
    BASE_IMAGE,
    WEB_IMAGE,
    base_stack,
    container,
    observed_for,
    oci_image,
    rehash,
    replace_observed,
    spec_of,
    with_containers,
    without,
)


def fresh_plan() -> tuple[Desired, Observed]:
    return Desired((base_stack(),)), Observed()


def test_creation_depends_on_image_volume_and_dependencies() -> None:
    desired, observed = fresh_plan()
    result = plan(desired, observed)
    assert result.action("create:shop-db").depends_on == ("create-volume:shop-data", "import:base")
    assert result.action("create:shop-web").depends_on == ("create:shop-db", "pull:web")
    ids = [a.id for a in result.actions]
    assert ids.index("create:shop-db") < ids.index("create:shop-web")


def test_one_image_action_per_identity_with_its_payload() -> None:
    result = plan(*fresh_plan())
    image_actions = [a for a in result.actions if a.kind in (Kind.IMPORT, Kind.PULL)]
    assert [(a.id, a.image) for a in image_actions] == [
        ("import:base", BASE_IMAGE),
        ("pull:web", WEB_IMAGE),
    ]


def test_actions_carry_the_spec_and_volume_they_act_on() -> None:
    desired, observed = fresh_plan()
    result = plan(desired, observed)
    assert result.action("create:shop-web").container == spec_of(base_stack(), "web")
    assert result.action("create-volume:shop-data").volume == VolumeSpec("shop", "data")


def test_a_volume_mounted_by_full_name_is_a_dependency_too() -> None:
    spec = container("logger", BASE_IMAGE, mounts=(Mount("volume", "/logs", "shop-data"),))
    stack = with_containers(base_stack(), spec)
    result = plan(Desired((stack,)), Observed(images={BASE_IMAGE.identity: "sha256:1"}))
    assert "create-volume:shop-data" in result.action("create:shop-logger").depends_on


def test_a_replaced_dependency_orders_the_dependants_start() -> None:
    stack = base_stack()
    observed = observed_for(Desired((stack,)))
    db = rehash(spec_of(stack, "db"), env=(("TZ", "CET"),))
    web = rehash(spec_of(stack, "web"), env=(("TZ", "CET"),))
    result = plan(Desired((with_containers(stack, db, web),)), observed)
    assert result.action("replace:shop-web").depends_on == ("replace:shop-db",)


def test_containers_of_stacks_out_of_scope_are_never_touched_or_reported() -> None:
    shop = base_stack()
    other = container("api", WEB_IMAGE, stack="blog")
    observed = observed_for(Desired((shop,)))
    observed = replace(
        observed, containers=(*observed.containers, observed_from_spec(other, "sha256:x"))
    )
    result = plan(Desired((shop,)), observed, PlanOptions(prune=True))
    assert all(a.stack == "shop" for a in result.actions)
    assert "blog-api" not in result.unchanged + result.orphans
    assert result.empty


def test_containers_without_ownership_labels_are_ignored() -> None:
    stack = base_stack()
    observed = observed_for(Desired((stack,)))
    stray = replace(observed.containers[0], name="shop-stray", key="stray", labels={})
    observed = replace(observed, containers=(*observed.containers, stray))
    result = plan(Desired((stack,)), observed, PlanOptions(prune=True))
    assert result.empty
    assert "shop-stray" not in result.orphans


def test_an_explicit_scope_turns_a_vanished_stack_into_orphans() -> None:
    observed = observed_for(Desired((base_stack(),)))
    kept = plan(Desired(), observed, PlanOptions(scope=frozenset({"shop"})))
    assert kept.orphans == ("shop-cache", "shop-db", "shop-job", "shop-web")
    assert plan(Desired(), observed).empty  # default scope: only desired's stacks


def test_orphan_removal_follows_the_recorded_depends_on_label() -> None:
    # Both api and db left the spec; only the label says api depended on db.
    api = container("api", BASE_IMAGE, depends_on=(Dependency("db"),))
    db = container("db", BASE_IMAGE)
    observed = Observed((observed_from_spec(db, "sha256:1"), observed_from_spec(api, "sha256:1")))
    assert observed.containers[1].labels[labels.DEPENDS_ON] == "db"
    result = plan(Desired(), observed, PlanOptions(prune=True, scope=frozenset({"shop"})))
    assert [a.id for a in result.actions] == ["remove:shop-api", "remove:shop-db"]
    assert result.action("remove:shop-db").depends_on == ("remove:shop-api",)


def test_same_image_key_with_different_content_in_two_stacks_gets_two_actions() -> None:
    shop = base_stack()
    blog_image = oci_image("base", "/srv/blog/images/busybox")
    blog = replace(shop, name="blog", volumes=(), containers=(container("x", blog_image, "blog"),))
    result = plan(Desired((shop, blog)), Observed())
    imports = [a for a in result.actions if a.kind == Kind.IMPORT]
    assert len(imports) == 2
    assert len({a.id for a in imports}) == 2


def test_a_paused_container_is_left_alone() -> None:
    stack = base_stack()
    observed = replace_observed(observed_for(Desired((stack,))), "shop-db", state="paused")
    assert plan(Desired((stack,)), observed).empty


def test_an_oom_killed_on_failure_container_is_started() -> None:
    stack = base_stack()
    job = rehash(
        spec_of(stack, "job"), restart=replace(spec_of(stack, "db").restart, policy="on-failure")
    )
    observed = replace_observed(observed_for(Desired((stack,))), "shop-job", oom_killed=True)
    result = plan(Desired((with_containers(stack, job),)), observed)
    assert [a.id for a in result.actions] == ["start:shop-job"]


def test_an_unrecorded_image_digest_does_not_cause_a_replace() -> None:
    # A driver that could not read the digest must not make every plan replace everything.
    stack = base_stack()
    observed = replace_observed(observed_for(Desired((stack,))), "shop-web", image_digest="")
    assert plan(Desired((stack,)), observed).empty


def test_a_dependency_cycle_is_refused() -> None:
    a = container("a", BASE_IMAGE, depends_on=(Dependency("b"),))
    b = container("b", BASE_IMAGE, depends_on=(Dependency("a"),))
    stack = replace(base_stack(), containers=(a, b))
    with pytest.raises(ValueError, match="cycle"):
        plan(Desired((stack,)), Observed(images={BASE_IMAGE.identity: "sha256:1"}))


def test_the_same_inputs_in_any_order_give_the_same_plan() -> None:
    stack = without(base_stack(), "cache")
    observed = observed_for(Desired((base_stack(),)))
    observed = replace(observed, images={**observed.images, WEB_IMAGE.identity: digest_of("v2")})
    expected = plan(Desired((stack,)), observed, PlanOptions(prune=True))
    rng = random.Random(3)
    for _ in range(5):
        containers = list(stack.containers)
        rng.shuffle(containers)
        seen = list(observed.containers)
        rng.shuffle(seen)
        shuffled = Desired((replace(stack, containers=tuple(containers)),))
        again = plan(shuffled, replace(observed, containers=tuple(seen)), PlanOptions(prune=True))
        assert again == expected
