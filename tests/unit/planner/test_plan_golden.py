"""Table-driven planner tests: the base shop stack and the host after applying it, one
mutation per case, the rendered plan compared with a golden string: the text output with
each action's id and dependency edges below its line (plan_fixtures.golden_text), so an
ordering bug fails a case."""

from __future__ import annotations

import pytest

from reconciler.model.desired import Desired, Healthcheck, RestartPolicy
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions, plan
from tests.plan_fixtures import (
    WEB_IMAGE,
    base_stack,
    golden_text,
    observed_for,
    ref_image,
)
from tests.unit.planner.golden_world import (
    SHOP,
    Mutation,
    World,
    base_image_gone,
    both,
    built_app,
    change,
    down_volumes,
    drop,
    empty_host,
    host,
    moved_tag,
    new_volume,
    nginx_conf_edited,
    observed_cache_replicas,
    rollout_debris,
    scale_cache,
    shuffled,
    stack_deleted,
    start_first,
    web_image,
)


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


CASES: list[tuple[str, Mutation, str]] = [
    ("everything is good; do nothing", lambda w: w, ALL + NOTHING),
    (
        "a moved tag replaces the container, naming both digests",
        moved_tag,
        f"~ replace shop-web  (image_digest {NEW_WEB})\n"
        "    [replace:shop-web]\n"
        + unchanged("cache", "db", "job")
        + REPLACE_ONE,
    ),
    (
        "an env change replaces the container, naming the variable",
        change("db", env=(("TZ", "CET"),)),
        '~ replace shop-db  (env.TZ "UTC" → "CET")\n'
        "    [replace:shop-db]\n"
        + unchanged("cache", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "turning init on replaces the container, naming the field",
        change("db", init=True),
        "~ replace shop-db  (init false → true)\n"
        "    [replace:shop-db]\n"
        + unchanged("cache", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "an edited bind-mounted file replaces the container",
        nginx_conf_edited,
        f"~ replace shop-web  (mounts./etc/nginx.conf.content {NGINX_CONF})\n"
        "    [replace:shop-web]\n"
        + unchanged("cache", "db", "job")
        + REPLACE_ONE,
    ),
    (
        "scaling up creates the missing replicas only",
        scale_cache(3),
        "+ create shop-cache-2  (replica 2 of 3 (replicas: 1 → 3))\n"
        "    [create:shop-cache-2]\n"
        "+ create shop-cache-3  (replica 3 of 3 (replicas: 1 → 3))\n"
        "    [create:shop-cache-3]\n"
        + ALL
        + "Plan: 2 to create, 0 to replace, 0 to remove.",
    ),
    (
        "scaling down removes the highest replicas, without --prune",
        both(observed_cache_replicas(3), scale_cache(1)),
        "- remove shop-cache-2  (replica 2 of 1 (replicas: 3 → 1))\n"
        "    [remove:shop-cache-2]\n"
        "- remove shop-cache-3  (replica 3 of 1 (replicas: 3 → 1))\n"
        "    [remove:shop-cache-3]\n"
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
        "    [remove:shop-cache]\n"
        + unchanged("db", "job", "web")
        + "Plan: 0 to create, 0 to replace, 1 to remove.",
    ),
    (
        "on an empty host images and volumes come first, db is created before web",
        empty_host,
        "↓ import base  (not in the image store)\n"
        "    [import:base]\n"
        "↓ pull web  (not in the image store)\n"
        "    [pull:web]\n"
        "+ create-volume shop-data  (new in the spec)\n"
        "    [create-volume:shop-data]\n"
        "+ create shop-cache  (new in the spec)\n"
        "    [create:shop-cache] ← import:base\n"
        "+ create shop-db  (new in the spec)\n"
        "    [create:shop-db] ← create-volume:shop-data, import:base\n"
        "+ create shop-job  (new in the spec)\n"
        "    [create:shop-job] ← import:base\n"
        "+ create shop-web  (new in the spec)\n"
        "    [create:shop-web] ← create:shop-db, pull:web\n"
        "Plan: 4 to create, 0 to replace, 0 to remove; 2 images to ensure, 1 volume to create.",
    ),
    (
        "a deleted stack with --prune removes web before db",
        stack_deleted,
        "- remove shop-cache  (no longer in the spec)\n"
        "    [remove:shop-cache]\n"
        "- remove shop-job  (no longer in the spec)\n"
        "    [remove:shop-job]\n"
        "- remove shop-web  (no longer in the spec)\n"
        "    [remove:shop-web]\n"
        "- remove shop-db  (no longer in the spec)\n"
        "    [remove:shop-db] ← remove:shop-web\n"
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
        "    [start:shop-db]\n"
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
        "    [start:shop-job]\n"
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
        "    [start:shop-cache]\n"
        + unchanged("db", "job", "web")
        + START_ONE,
    ),
    (
        "a missing image is imported once, before the container that needs it",
        base_image_gone,
        "↓ import base  (not in the image store)\n"
        "    [import:base]\n"
        "+ create shop-worker  (new in the spec)\n"
        "    [create:shop-worker] ← import:base\n"
        + ALL
        + "Plan: 1 to create, 0 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a new named volume is created",
        new_volume,
        "+ create-volume shop-logs  (new in the spec)\n"
        "    [create-volume:shop-logs]\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 0 to remove; 1 volume to create.",
    ),
    (
        "two changes on one container show in one replace line, secrets masked",
        both(moved_tag, change("web", env=(("API_TOKEN", "s3cret"), ("TZ", "CET")))),
        f"~ replace shop-web  (image_digest {NEW_WEB}; "
        'env.API_TOKEN null → (sensitive); env.TZ null → "CET")\n'
        "    [replace:shop-web]\n"
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
        "    [replace:shop-cache]\n"
        + unchanged("db", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "pull: always pulls even when the image is present",
        web_image(replace(WEB_IMAGE, pull="always")),
        "↓ pull web  (pull: always)\n"
        "    [pull:web]\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a new tag is pulled before the container is replaced",
        web_image(ref_image("web", WEB_1_5)),
        "↓ pull web  (not in the image store)\n"
        "    [pull:web]\n"
        f"~ replace shop-web  ({WEB_IMAGE_CHANGE})\n"
        "    [replace:shop-web] ← pull:web\n"
        + unchanged("cache", "db", "job")
        + "Plan: 0 to create, 1 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a missing image with pull: never is planned so the failure is explained",
        web_image(ref_image("web", WEB_1_5, pull="never")),
        "↓ pull web  (image missing and pull: never)\n"
        "    [pull:web]\n"
        f"~ replace shop-web  ({WEB_IMAGE_CHANGE})\n"
        "    [replace:shop-web] ← pull:web\n"
        + unchanged("cache", "db", "job")
        + "Plan: 0 to create, 1 to replace, 0 to remove; 1 image to ensure.",
    ),
    (
        "a build whose base is missing imports the base first",
        built_app,
        "↓ import base  (not in the image store)\n"
        "    [import:base]\n"
        "↓ build app  (not in the image store)\n"
        "    [build:app] ← import:base\n"
        "+ create shop-app  (new in the spec)\n"
        "    [create:shop-app] ← build:app\n"
        + ALL
        + "Plan: 1 to create, 0 to replace, 0 to remove; 2 images to ensure.",
    ),
]

DB_CET = change("db", env=(("TZ", "CET"),))
DB_NEXT = '+ create-stopped shop-db.next  (start-first replace of shop-db: env.TZ "UTC" → "CET")\n'
# A start-first rollout after its first step: one chain, each step after the one before.
ROLLOUT_DB = (
    "▶ start shop-db.next  (the new version beside the old shop-db)\n"
    "    [start:shop-db.next] ← create-stopped:shop-db.next\n"
    "⧗ wait-healthy shop-db.next  "
    "(healthy within 4s; removed if not healthy, the old shop-db keeps running)\n"
    "    [wait-healthy:shop-db.next] ← start:shop-db.next\n"
    "- remove shop-db  (the old version: shop-db.next is healthy)\n"
    "    [remove:shop-db] ← wait-healthy:shop-db.next\n"
    "+ create-stopped shop-db  (the new version under its own name)\n"
    "    [create-stopped:shop-db] ← remove:shop-db\n"
    "▶ start shop-db  (the new version under its own name)\n"
    "    [start:shop-db] ← create-stopped:shop-db\n"
    "⧗ wait-healthy shop-db  (healthy within 4s; shop-db.next serves until then)\n"
    "    [wait-healthy:shop-db] ← start:shop-db\n"
    "- remove shop-db.next  (the temporary copy: shop-db is healthy)\n"
    "    [remove:shop-db.next] ← wait-healthy:shop-db\n"
)
ALL_REMOVED = "remove:shop-cache, remove:shop-db, remove:shop-job, remove:shop-web"
CASES += [
    (
        "down --volumes removes every volume of the stack after all of its containers",
        down_volumes,
        "- remove shop-cache  (no longer in the spec)\n"
        "    [remove:shop-cache]\n"
        "- remove shop-job  (no longer in the spec)\n"
        "    [remove:shop-job]\n"
        "- remove shop-web  (no longer in the spec)\n"
        "    [remove:shop-web]\n"
        "- remove shop-db  (no longer in the spec)\n"
        "    [remove:shop-db] ← remove:shop-web\n"
        "- remove-volume shop-data  (down --volumes)\n"
        f"    [remove-volume:shop-data] ← {ALL_REMOVED}\n"
        "- remove-volume shop-logs  (down --volumes)\n"
        f"    [remove-volume:shop-logs] ← {ALL_REMOVED}\n"
        "Plan: 0 to create, 0 to replace, 4 to remove; 2 volumes to remove.",
    ),
    (
        "down without --volumes keeps the volumes",
        lambda w: replace(down_volumes(w), options=PlanOptions(prune=True, scope=SHOP)),
        "- remove shop-cache  (no longer in the spec)\n"
        "    [remove:shop-cache]\n"
        "- remove shop-job  (no longer in the spec)\n"
        "    [remove:shop-job]\n"
        "- remove shop-web  (no longer in the spec)\n"
        "    [remove:shop-web]\n"
        "- remove shop-db  (no longer in the spec)\n"
        "    [remove:shop-db] ← remove:shop-web\n"
        "Plan: 0 to create, 0 to replace, 4 to remove.",
    ),
    (
        "a start-first replace is eight steps, the new one healthy before the old one goes",
        both(start_first("db"), DB_CET),
        DB_NEXT
        + "    [create-stopped:shop-db.next]\n"
        + ROLLOUT_DB
        + unchanged("cache", "job", "web")
        + REPLACE_ONE,
    ),
    (
        "a start-first replace with no change is nothing to do",
        start_first("db"),
        ALL + NOTHING,
    ),
    (
        "a dependant replaced in the same plan waits for the whole rollout",
        both(start_first("db"), DB_CET, change("web", env=(("TZ", "CET"),))),
        DB_NEXT
        + "    [create-stopped:shop-db.next]\n"
        + ROLLOUT_DB
        + '~ replace shop-web  (env.TZ null → "CET")\n'
        "    [replace:shop-web] ← remove:shop-db.next\n"
        + unchanged("cache", "job")
        + "Plan: 0 to create, 2 to replace, 0 to remove.",
    ),
    (
        "the leftover of an interrupted rollout is removed before a new rollout starts",
        both(start_first("db"), DB_CET, rollout_debris),
        "- remove shop-db.next  (left behind by an interrupted start-first rollout)\n"
        "    [remove:shop-db.next@debris]\n"
        + DB_NEXT
        + "    [create-stopped:shop-db.next] ← remove:shop-db.next@debris\n"
        + ROLLOUT_DB
        + unchanged("cache", "job", "web")
        + "Plan: 0 to create, 1 to replace, 1 to remove.",
    ),
    (
        "the leftover of an interrupted rollout is removed",
        rollout_debris,
        "- remove shop-db.next  (left behind by an interrupted start-first rollout)\n"
        "    [remove:shop-db.next]\n"
        + ALL
        + "Plan: 0 to create, 0 to replace, 1 to remove.",
    ),
]

SHUFFLE_GOLDEN = (
    "+ create shop-cache-2  (replica 2 of 2 (replicas: 1 → 2))\n"
    "    [create:shop-cache-2]\n"
    f"~ replace shop-web  (image_digest {NEW_WEB})\n"
    "    [replace:shop-web]\n"
    + unchanged("cache", "db", "job")
    + "Plan: 1 to create, 1 to replace, 0 to remove."
)
CASES += [
    (
        "a dead container (a removal cut short) is re-made even under restart: no",
        host("shop-db", state="dead", exit_code=137, pid=None),
        "~ replace shop-db  (state \"dead\" → \"re-made\")\n"
        "    [replace:shop-db]\n"
        + unchanged("cache", "job", "web")
        + REPLACE_ONE,
    ),
]

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
    assert golden_text(result) == golden.rstrip("\n")
