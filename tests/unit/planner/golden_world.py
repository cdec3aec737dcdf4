"""The world of the golden planner tests: the shop stack, the host after applying it, and
the mutations a case applies to them (tests/unit/planner/test_plan_golden.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

from reconciler.model.desired import (
    BuildSpec,
    Desired,
    DesiredStack,
    ImageSource,
    VolumeSpec,
)
from reconciler.model.observed import Observed
from reconciler.model.records import field, record, replace
from reconciler.planner.plan import PlanOptions
from tests.fakes import digest_of, observed_from_spec
from tests.plan_fixtures import (
    BASE_IMAGE,
    WEB_IMAGE,
    container,
    observed_for,
    rehash,
    replace_observed,
    replicas,
    spec_of,
    with_containers,
    without,
)

SHOP = frozenset({"shop"})


@record
class World:
    stack: DesiredStack
    observed: Observed
    options: PlanOptions = field(default_factory=PlanOptions)


Mutation = Callable[[World], World]


def change(key: str, **fields: object) -> Mutation:
    """The spec of container `key` changes `fields` (config hash recomputed)."""

    def mutate(w: World) -> World:
        return replace(w, stack=with_containers(w.stack, rehash(spec_of(w.stack, key), **fields)))

    return mutate


def host(name: str, **fields: object) -> Mutation:
    """The observed container `name` differs in `fields`."""

    def mutate(w: World) -> World:
        return replace(w, observed=replace_observed(w.observed, name, **fields))

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(w: World) -> World:
        for m in mutations:
            w = m(w)
        return w

    return mutate


def moved_tag(w: World) -> World:
    images = {**w.observed.images, WEB_IMAGE.identity: digest_of("web 1.4, rebuilt")}
    return replace(w, observed=replace(w.observed, images=images))


def scale_cache(count: int) -> Mutation:
    def mutate(w: World) -> World:
        cache = spec_of(w.stack, "cache")
        stack = replace(w.stack, containers=(*without(w.stack, "cache").containers,))
        return replace(w, stack=with_containers(stack, *replicas(cache, count)))

    return mutate


def observed_cache_replicas(count: int) -> Mutation:
    def mutate(w: World) -> World:
        bigger = observed_for(Desired((scale_cache(count)(w).stack,)))
        return replace(w, observed=bigger)

    return mutate


def drop(key: str, prune: bool = False) -> Mutation:
    def mutate(w: World) -> World:
        return World(without(w.stack, key), w.observed, PlanOptions(prune=prune))

    return mutate


def empty_host(w: World) -> World:
    return replace(w, observed=Observed())


def stack_deleted(w: World) -> World:
    empty = replace(w.stack, containers=(), volumes=(), images=())
    return World(empty, w.observed, PlanOptions(prune=True, scope=SHOP))


def base_image_gone(w: World) -> World:
    images = {k: v for k, v in w.observed.images.items() if k != BASE_IMAGE.identity}
    worker = container("worker", BASE_IMAGE, command=("work",))
    stack = with_containers(w.stack, worker)
    return World(stack, replace(w.observed, images=images))


def new_volume(w: World) -> World:
    volumes = (*w.stack.volumes, VolumeSpec("shop", "logs"))
    return replace(w, stack=replace(w.stack, volumes=volumes))


def web_image(image: ImageSource) -> Mutation:
    def mutate(w: World) -> World:
        images = {k: v for k, v in w.observed.images.items() if k != WEB_IMAGE.identity}
        w = change("web", image=image)(w)
        return replace(w, observed=replace(w.observed, images=images))

    return mutate


def built_app(w: World) -> World:
    build = BuildSpec(base="base", cmd=("/app/run",))
    app_image = ImageSource("app", "build", "sha256:" + "a" * 64, build=build, base=BASE_IMAGE)
    images = {k: v for k, v in w.observed.images.items() if k != BASE_IMAGE.identity}
    stack = with_containers(w.stack, container("app", app_image))
    return World(stack, replace(w.observed, images=images))


def shuffled(mutation: Mutation) -> Mutation:
    def mutate(w: World) -> World:
        w = mutation(w)
        containers = list(w.observed.containers)
        random.Random(7).shuffle(containers)
        images = dict(reversed(list(w.observed.images.items())))
        return replace(w, observed=Observed(tuple(containers), images, w.observed.volumes))

    return mutate


def down_volumes(w: World) -> World:
    """`down --volumes`: the stack is gone from the spec; a volume it no longer declares is
    on the host too, and another stack's volume is out of scope."""
    volumes = w.observed.volumes | {"shop-logs", "other-data"}
    empty = replace(w.stack, containers=(), volumes=(), images=())
    options = PlanOptions(prune=True, scope=SHOP, remove_volumes=True)
    return World(empty, replace(w.observed, volumes=volumes), options)


def start_first(key: str) -> Mutation:
    """Container `key` rolls out start-first (out of the config hash: no change by itself)."""
    return change(key, update_order="start-first")


def rollout_debris(w: World) -> World:
    """A kill -9 mid-rollout left shop-db.next behind."""
    db = spec_of(w.stack, "db")
    digest = w.observed.images[db.image.identity]
    debris = observed_from_spec(replace(db, name="shop-db.next"), digest)
    return replace(w, observed=replace(w.observed, containers=(*w.observed.containers, debris)))


def nginx_conf_edited(w: World) -> World:
    mount = replace(spec_of(w.stack, "web").mounts[0], content_hash=digest_of("nginx.conf v2"))
    return change("web", mounts=(mount,))(w)
