"""Table-driven planner tests: the base shop stack and the host after applying it, one
mutation per case, the rendered plan (text, no colour) compared with a golden string."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from reconciler.model.desired import (
    BuildSpec,
    Desired,
    DesiredStack,
    Healthcheck,
    ImageSource,
    RestartPolicy,
    VolumeSpec,
)
from reconciler.model.observed import Observed
from reconciler.planner.plan import PlanOptions, plan
from reconciler.planner.render import render_text
from tests.fakes import digest_of
from tests.plan_fixtures import (
    BASE_IMAGE,
    WEB_IMAGE,
    base_stack,
    container,
    observed_for,
    ref_image,
    rehash,
    replace_observed,
    replicas,
    spec_of,
    with_containers,
    without,
)

SHOP = frozenset({"shop"})


@dataclass
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


def unchanged(*names: str) -> str:
    return "".join(f"= unchanged shop-{n}\n" for n in names)


ALL = unchanged("cache", "db", "job", "web")
NOTHING = "No changes. Nothing to do."
REPLACE_ONE = "Plan: 0 to create, 1 to replace, 0 to remove."
START_ONE = "Plan: 0 to create, 0 to replace, 0 to remove; 1 to start."
NEW_WEB = "sha256:b21946d91546… → sha256:66d69881df3a…"
NGINX_CONF = "sha256:f83af9ad3b2c… → sha256:09f716fc5925…"
ON_FAILURE_3 = RestartPolicy(policy="on-failure", max_retries=3)
WEB_1_5 = "registry.local:5000/acme/web:1.5"
WEB_IMAGE_CHANGE = f'image "registry.local:5000/acme/web:1.4" → "{WEB_1_5}"'


def nginx_conf_edited(w: World) -> World:
    mount = replace(spec_of(w.stack, "web").mounts[0], content_hash=digest_of("nginx.conf v2"))
    return change("web", mounts=(mount,))(w)


CASES: list[tuple[str, Mutation, str]] = [
    ("everything is good; do nothing", lambda w: w, ALL + NOTHING),
    (
        "a moved tag replaces the container, naming both digests",
        moved_tag,
        f"~ replace shop-web  (image_digest {NEW_WEB})\n"
        + unchanged("cache", "db", "job")
        + REPLACE_ONE,
    ),
    (
        "an env change replaces the container, naming the variable",
        change("db", env=(("TZ", "CET"),)),
        '~ replace shop-db  (env.TZ "UTC" → "CET")\n'
        + unchanged("cache", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "an edited bind-mounted file replaces the container",
        nginx_conf_edited,
        f"~ replace shop-web  (mounts./etc/nginx.conf.content {NGINX_CONF})\n"
        + unchanged("cache", "db", "job")
        + REPLACE_ONE,
    ),
    (
        "scaling up creates the missing replicas only",
        scale_cache(3),
        "+ create shop-cache-2  (replica 2 of 3 (replicas: 1 → 3))\n"
        "+ create shop-cache-3  (replica 3 of 3 (replicas: 1 → 3))\n"
        + ALL
        + "Plan: 2 to create, 0 to replace, 0 to remove.",
    ),
    (
        "scaling down removes the highest replicas, without --prune",
        both(observed_cache_replicas(3), scale_cache(1)),
        "- remove shop-cache-2  (replica 2 of 1 (replicas: 3 → 1))\n"
        "- remove shop-cache-3  (replica 3 of 1 (replicas: 3 → 1))\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 2 to remove.",
    ),
    (
        "a container left out of the spec is an orphan, kept without --prune",
        drop("cache"),
        unchanged("db", "job", "web")
        + "! orphan shop-cache (kept; use --prune to remove)\n"
        + NOTHING,
    ),
    (
        "a container left out of the spec is removed with --prune",
        drop("cache", prune=True),
        "- remove shop-cache  (no longer in the spec)\n"
        + unchanged("db", "job", "web")
        + "Plan: 0 to create, 0 to replace, 1 to remove.",
    ),
    (
        "on an empty host images and volumes come first, db is created before web",
        empty_host,
        "↓ import base  (not in the image store)\n"
        "↓ pull web  (not in the image store)\n"
        "+ create-volume shop-data  (new in the spec)\n"
        "+ create shop-cache  (new in the spec)\n"
        "+ create shop-db  (new in the spec)\n"
        "+ create shop-job  (new in the spec)\n"
        "+ create shop-web  (new in the spec)\n"
        "Plan: 4 to create, 0 to replace, 0 to remove; 2 images to ensure, 1 volume to create.",
    ),
    (
        "a deleted stack with --prune removes web before db",
        stack_deleted,
        "- remove shop-cache  (no longer in the spec)\n"
        "- remove shop-job  (no longer in the spec)\n"
        "- remove shop-web  (no longer in the spec)\n"
        "- remove shop-db  (no longer in the spec)\n"
        "Plan: 0 to create, 0 to replace, 4 to remove.",
    ),
    (
        "a restart-policy-only change does not replace",
        change("db", restart=RestartPolicy(policy="on-failure", max_retries=5)),
        ALL + NOTHING,
    ),
    (
        "a healthcheck-only change does not replace",
        change("web", healthcheck=Healthcheck(kind="http", port=80)),
        ALL + NOTHING,
    ),
    (
        "an exited container with restart: always is started",
        host("shop-db", state="exited", exit_code=137, pid=None),
        "▶ start shop-db  (exited with code 137; restart: always)\n"
        + unchanged("cache", "job", "web")
        + START_ONE,
    ),
    (
        "a finished one-shot job is not run again, even after a failure with restart: no",
        host("shop-job", exit_code=1),
        ALL + NOTHING,
    ),
    (
        "a failed job with restart: on-failure is started",
        both(change("job", restart=ON_FAILURE_3), host("shop-job", exit_code=1, restart_count=1)),
        "▶ start shop-job  (exited with code 1; restart: on-failure)\n"
        + unchanged("cache", "db", "web")
        + START_ONE,
    ),
    (
        "on-failure:3 gives up after 3 restarts",
        both(change("job", restart=ON_FAILURE_3), host("shop-job", exit_code=1, restart_count=3)),
        ALL + NOTHING,
    ),
    (
        "a created container that never started (interrupted apply) is started",
        host("shop-cache", state="created"),
        "▶ start shop-cache  (created but never started: an interrupted apply)\n"
        + unchanged("db", "job", "web")
        + START_ONE,
    ),
    (
        "a missing image is imported once, before the container that needs it",
        base_image_gone,
        "↓ import base  (not in the image store)\n"
        "+ create shop-worker  (new in the spec)\n"
        + ALL
        + "Plan: 1 to create, 0 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a new named volume is created",
        new_volume,
        "+ create-volume shop-logs  (new in the spec)\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 0 to remove; 1 volume to create.",
    ),
    (
        "two changes on one container show in one replace line, secrets masked",
        both(moved_tag, change("web", env=(("API_TOKEN", "s3cret"), ("TZ", "CET")))),
        f"~ replace shop-web  (image_digest {NEW_WEB}; "
        'env.API_TOKEN null → (sensitive); env.TZ null → "CET")\n'
        + unchanged("cache", "db", "job")
        + REPLACE_ONE,
    ),
    (
        "without a recorded spec the config hash is the change",
        both(
            change("cache", command=("cache", "--port", "6380")),
            host("shop-cache", recorded_spec=None),
        ),
        "~ replace shop-cache  (config_hash sha256:1916d1e5c565… → sha256:e930a3238dbe…)\n"
        + unchanged("db", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "pull: always pulls even when the image is present",
        web_image(replace(WEB_IMAGE, pull="always")),
        "↓ pull web  (pull: always)\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a new tag is pulled before the container is replaced",
        web_image(ref_image("web", WEB_1_5)),
        "↓ pull web  (not in the image store)\n"
        f"~ replace shop-web  ({WEB_IMAGE_CHANGE})\n"
        + unchanged("cache", "db", "job")
        + "Plan: 0 to create, 1 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a missing image with pull: never is planned so the failure is explained",
        web_image(ref_image("web", WEB_1_5, pull="never")),
        "↓ pull web  (image missing and pull: never)\n"
        f"~ replace shop-web  ({WEB_IMAGE_CHANGE})\n"
        + unchanged("cache", "db", "job")
        + "Plan: 0 to create, 1 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a build whose base is missing imports the base first",
        built_app,
        "↓ import base  (not in the image store)\n"
        "↓ build app  (not in the image store)\n"
        "+ create shop-app  (new in the spec)\n"
        + ALL
        + "Plan: 1 to create, 0 to replace, 0 to remove; 2 images to ensure.",
    ),
]

SHUFFLE_GOLDEN = (
    "+ create shop-cache-2  (replica 2 of 2 (replicas: 1 → 2))\n"
    f"~ replace shop-web  (image_digest {NEW_WEB})\n"
    + unchanged("cache", "db", "job")
    + "Plan: 1 to create, 1 to replace, 0 to remove."
)
CASES += [
    ("the observed order does not matter", both(moved_tag, scale_cache(2)), SHUFFLE_GOLDEN),
    (
        "the observed order does not matter (shuffled)",
        shuffled(both(moved_tag, scale_cache(2))),
        SHUFFLE_GOLDEN,
    ),
]


@pytest.mark.parametrize(("mutation", "golden"), [pytest.param(m, g, id=i) for i, m, g in CASES])
def test_plan_renders_golden_text(mutation: Mutation, golden: str) -> None:
    world = mutation(World(base_stack(), observed_for(Desired((base_stack(),)))))
    result = plan(Desired((world.stack,)), world.observed, world.options)
    assert render_text(result, color=False) == golden.rstrip("\n")
