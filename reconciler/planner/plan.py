"""The pure planner: `plan(desired, observed, options) -> Plan`.

No I/O and no clock (time comes in through `PlanOptions.now`); every collection is walked
in sorted order so that the same inputs always give the same plan. The decision table the
code implements is written out, case by case, in docs/plan.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from reconciler.model import hashing, labels
from reconciler.model.actions import Deferred, FieldChange, Kind, Plan, Waiting
from reconciler.model.desired import ContainerSpec, Desired, DesiredStack, ImageSource, VolumeSpec
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.model.records import field, record
from reconciler.model.restart import gave_up
from reconciler.model.rollout import NEXT_SUFFIX
from reconciler.planner.conditions import held_back
from reconciler.planner.draft import Draft, in_dependency_order
from reconciler.planner.rollout import is_start_first, start_first_steps


@record(frozen=True)
class PlanOptions:
    """The planner's inputs besides desired and observed state."""
    prune: bool = False  # remove owned containers of in-scope stacks that left the spec
    scope: frozenset[str] | None = None  # stacks this invocation manages; None: desired's
    now: float = 0.0  # seconds since the epoch; an input, so plans stay reproducible
    # Image identities already pulled in this convergence: `pull: always` pulls once per run.
    pulled: frozenset[str] = frozenset()
    # Container name -> earliest time a start/restart may run (the loop's restart backoff);
    # a wanted start before then is listed in Plan.deferred instead of planned.
    not_before: Mapping[str, float] = field(default_factory=dict)
    # Containers the user stopped (`reconcile stop`): never started or restarted by a plan.
    user_stopped: frozenset[str] = frozenset()
    # `down --volumes`: remove the in-scope stacks' volumes that no stack declares, after
    # the stack's container removals (docs/plan.md).
    remove_volumes: bool = False


_IMAGE_KIND = {"ref": Kind.PULL, "oci": Kind.IMPORT, "archive": Kind.IMPORT, "build": Kind.BUILD,
               "dockerfile": Kind.BUILD}

# (stack, container key) -> (desired replicas, observed replicas)
_Counts = Mapping[tuple[str, str], tuple[int, int]]


@record
class _Context:
    """What one planning pass shares between its steps."""
    desired: list[DesiredStack]
    observed: Observed
    owned: dict[str, ObservedContainer]
    options: PlanOptions
    scope: frozenset[str]
    drafts: dict[str, Draft] = field(default_factory=dict)
    image_action: dict[str, str] = field(default_factory=dict)  # identity -> action id
    volume_action: dict[str, str] = field(default_factory=dict)  # full name -> action id
    deferred: dict[str, Deferred] = field(default_factory=dict)  # name -> held back start
    waiting: dict[str, Waiting] = field(default_factory=dict)  # name -> depends_on not met

    def add(self, draft: Draft) -> str:
        self.drafts[draft.id] = draft
        return draft.id


def plan(desired: Desired, observed: Observed, options: PlanOptions | None = None) -> Plan:
    """Compute the actions that make `observed` equal to `desired` for the stacks in scope."""
    options = options or PlanOptions()
    scope = options.scope if options.scope is not None else {s.name for s in desired.stacks}
    stacks = sorted((s for s in desired.stacks if s.name in scope), key=lambda s: s.name)
    owned = {
        c.name: c for c in observed.containers if c.stack in scope and labels.is_owned(c.labels)
    }
    ctx = _Context(stacks, observed, owned, options, frozenset(scope))
    _plan_images(ctx)
    _plan_volumes(ctx)
    counts = _replica_counts(ctx)
    unchanged = _plan_containers(ctx, counts)
    orphans = _plan_removals(ctx, counts)
    if options.remove_volumes:
        _plan_volume_removals(ctx)
    return Plan(
        actions=in_dependency_order(ctx.drafts),
        unchanged=tuple(sorted(unchanged)),
        orphans=tuple(sorted(orphans)),
        deferred=tuple(ctx.deferred[n] for n in sorted(ctx.deferred)),
        waiting=tuple(ctx.waiting[n] for n in sorted(ctx.waiting)),
        warnings=tuple(sorted({w for s in stacks for w in s.warnings})),
    )


# -- images -------------------------------------------------------------------------------


def _image_reason(image: ImageSource, observed: Observed, pulled: frozenset[str]) -> str | None:
    present = image.identity in observed.images
    if image.kind == "ref" and image.pull == "always" and image.identity not in pulled:
        return "pull: always"
    if present:
        return None
    if image.kind == "ref" and image.pull == "never":
        # Still planned so the plan says why the apply will fail; the driver refuses to pull.
        return "image missing and pull: never"
    return "not in the image store"


def _plan_image(ctx: _Context, image: ImageSource, stack: str) -> str | None:
    """Plan the ensure action of `image` (and of a build's base) once per identity."""
    if image.identity in ctx.image_action:
        return ctx.image_action[image.identity] or None
    reason = _image_reason(image, ctx.observed, ctx.options.pulled)
    if reason is None:
        ctx.image_action[image.identity] = ""
        return None
    kind = _IMAGE_KIND[image.kind]
    action_id = f"{kind}:{image.key}"
    if action_id in ctx.drafts:  # same key, different content in another stack
        action_id = f"{kind}:{image.key}@{image.identity.rsplit(':', 1)[-1][:12]}"
    draft = Draft(action_id, kind, image.key, reason, stack, image=image)
    for base in (image.base, *image.bases):
        base_id = _plan_image(ctx, base, stack) if base is not None else None
        if base_id:
            draft.depends_on.add(base_id)
    ctx.image_action[image.identity] = ctx.add(draft)
    return action_id


def _plan_images(ctx: _Context) -> None:
    for stack in ctx.desired:
        for spec in sorted(stack.containers, key=lambda c: c.name):
            _plan_image(ctx, spec.image, stack.name)


# -- volumes ------------------------------------------------------------------------------


def _plan_volumes(ctx: _Context) -> None:
    for stack in ctx.desired:
        for volume in sorted(stack.volumes, key=lambda v: v.full_name):
            if volume.full_name in ctx.observed.volumes:
                continue
            draft = Draft(
                f"{Kind.CREATE_VOLUME}:{volume.full_name}",
                Kind.CREATE_VOLUME,
                volume.full_name,
                "new in the spec",
                stack.name,
                volume=volume,
            )
            ctx.volume_action[volume.full_name] = ctx.add(draft)


def _volume_dependencies(ctx: _Context, spec: ContainerSpec) -> set[str]:
    deps = set()
    for mount in spec.mounts:
        if mount.type != "volume":
            continue
        # Accept both the stack-local name and the full name as the mount source.
        for name in (mount.source, f"{spec.stack}-{mount.source}"):
            if name in ctx.volume_action:
                deps.add(ctx.volume_action[name])
    return deps


# -- containers ---------------------------------------------------------------------------


def _changes(
    spec: ContainerSpec, seen: ObservedContainer, images: Mapping[str, str]
) -> list[FieldChange]:
    """Why `seen` must be replaced by `spec`: image digest first, then the config fields."""
    changes = []
    digest = images.get(spec.image.identity, "")
    if digest and seen.image_digest and digest != seen.image_digest:
        changes.append(FieldChange("image_digest", seen.image_digest, digest))
    if seen.config_hash != spec.config_hash:
        fields: tuple[FieldChange, ...] = ()
        if seen.recorded_spec is not None:
            fields = hashing.diff_fields(seen.recorded_spec, hashing.hashed_fields(spec))
        # A hash that moved with no visible field change (e.g. a new hash scheme) still counts.
        changes.extend(fields or (FieldChange("config_hash", seen.config_hash, spec.config_hash),))
    return changes


def _start_reason(spec: ContainerSpec, seen: ObservedContainer) -> str | None:
    """Why a stopped container with an unchanged config must be started, or None to leave it."""
    if seen.state == "created":
        return "created but never started: an interrupted apply"
    if seen.state not in ("exited", "dead"):
        return None
    policy = spec.restart.policy
    exited = "exited" if seen.exit_code is None else f"exited with code {seen.exit_code}"
    if policy in ("always", "unless-stopped"):
        return f"{exited}; restart: {policy}"
    if policy != "on-failure" or (seen.exit_code == 0 and not seen.oom_killed):
        return None  # a finished one-shot job is done, not broken
    if gave_up(spec.restart, seen):
        return None  # on-failure:N gave up, as Docker does
    return f"{exited}; restart: on-failure"


def _unhealthy_reason(spec: ContainerSpec, seen: ObservedContainer) -> str | None:
    check = spec.healthcheck
    if seen.state != "running" or seen.health != "unhealthy" or check is None:
        return None
    return "unhealthy; on_unhealthy: restart" if check.on_unhealthy == "restart" else None


def _start_or_restart(ctx: _Context, spec: ContainerSpec, seen: ObservedContainer) -> Draft | None:
    """A start of a stopped one or a restart of an unhealthy one, unless the user stopped it
    or its backoff (PlanOptions.not_before) still runs."""
    kind, reason = Kind.START, _start_reason(spec, seen)
    if reason is None:
        kind, reason = Kind.RESTART, _unhealthy_reason(spec, seen)
    if reason is None or spec.name in ctx.options.user_stopped:
        return None
    due = ctx.options.not_before.get(spec.name, 0.0)
    if due > ctx.options.now:
        ctx.deferred[spec.name] = Deferred(spec.name, due, reason)
        return None
    return Draft(f"{kind}:{spec.name}", kind, spec.name, reason, spec.stack)


def _replicas_phrase(replica: str, desired: int, observed: int) -> str:
    return f"replica {replica} of {desired} (replicas: {observed} → {desired})"


def _decide(ctx: _Context, spec: ContainerSpec, counts: _Counts) -> Draft | None:
    seen = ctx.owned.get(spec.name)
    if seen is None:
        want, have = counts[(spec.stack, spec.key)]
        reason = "new in the spec"
        if 0 < have < want:
            reason = _replicas_phrase(str(spec.replica), want, have)
        return Draft(f"{Kind.CREATE}:{spec.name}", Kind.CREATE, spec.name, reason, spec.stack)
    changes = _changes(spec, seen, ctx.observed.images)
    if not changes and seen.drift and seen.state in ("running", "created", "paused"):
        # Network objects gone behind our back: re-made by the replace (docs/plan.md).
        changes = [FieldChange("drift", item, "repaired") for item in seen.drift]
    if not changes and seen.state == "dead":
        # Half made or half removed by a run that was cut short: whatever its restart
        # policy, it is debris to finish and re-make, not a finished job.
        changes = [FieldChange("state", "dead", "re-made")]
    if changes:
        reason = "changed: " + ", ".join(c.path for c in changes)
        if changes[0].path == "drift":
            reason = "drift: " + "; ".join(seen.drift)
        elif changes[0].path == "state":
            reason = "dead: left half-made or half-removed by a run cut short"
        draft = Draft(f"{Kind.REPLACE}:{spec.name}", Kind.REPLACE, spec.name, reason, spec.stack)
        draft.changes = tuple(changes)
        return draft
    return _start_or_restart(ctx, spec, seen)


def _hold_back(ctx: _Context, specs: list[ContainerSpec],
               planned: list[tuple[ContainerSpec, Draft]]) -> list[tuple[ContainerSpec, Draft]]:
    """Drop the drafts whose depends_on conditions are not met (plan_conditions)."""
    replicas: dict[tuple[str, str], list[ContainerSpec]] = defaultdict(list)
    for spec in specs:
        replicas[(spec.stack, spec.key)].append(spec)
    ctx.waiting = held_back({s.name: (s, d.kind) for s, d in planned}, replicas, ctx.owned,
                            frozenset(ctx.deferred))
    return [(s, d) for s, d in planned if s.name not in ctx.waiting]


def _replica_counts(ctx: _Context) -> _Counts:
    """(stack, key) -> (desired replicas, observed replicas)."""
    want: dict[tuple[str, str], int] = defaultdict(int)
    have: dict[tuple[str, str], int] = defaultdict(int)
    for stack in ctx.desired:
        for spec in stack.containers:
            want[(spec.stack, spec.key)] += 1
    for seen in ctx.owned.values():
        have[(seen.stack, seen.key)] += 1
    return {k: (want.get(k, 0), have.get(k, 0)) for k in set(want) | set(have)}


def _add_planned(ctx: _Context, spec: ContainerSpec, draft: Draft) -> tuple[Draft, str]:
    """Add `draft`, or the steps of a start-first replace in its place; return the action
    that takes the container's dependencies and the id its dependants wait for."""
    if not is_start_first(draft, spec):
        return draft, ctx.add(draft)
    steps = start_first_steps(draft, spec)
    for step in steps:
        ctx.add(step)
    return steps[0], steps[-1].id


def _plan_containers(ctx: _Context, counts: _Counts) -> list[str]:
    specs = sorted((c for s in ctx.desired for c in s.containers), key=lambda c: c.name)
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    planned: list[tuple[ContainerSpec, Draft]] = []
    unchanged = []
    for spec in specs:
        draft = _decide(ctx, spec, counts)
        if draft is None:
            if spec.name not in ctx.deferred:
                unchanged.append(spec.name)
            continue
        draft.container = spec
        planned.append((spec, draft))
    heads = []
    for spec, draft in _hold_back(ctx, specs, planned):
        head, tail = _add_planned(ctx, spec, draft)
        by_key[(spec.stack, spec.key)].append(tail)
        heads.append((spec, head))
    # Second pass: a container's dependencies are known only once every container is decided.
    for spec, draft in heads:
        image_id = ctx.image_action.get(spec.image.identity)
        draft.depends_on.update({image_id} if image_id else set())
        draft.depends_on.update(_volume_dependencies(ctx, spec))
        for dep in spec.depends_on:
            draft.depends_on.update(by_key.get((spec.stack, dep.container), ()))
    return unchanged


# -- removals -----------------------------------------------------------------------------


def _dependency_keys(
    seen: ObservedContainer, specs: Mapping[tuple[str, str], ContainerSpec]
) -> Iterable[str]:
    recorded = seen.labels.get(labels.DEPENDS_ON)
    if recorded is not None:
        return [k for k in recorded.split(",") if k]
    spec = specs.get((seen.stack, seen.key))
    return [d.container for d in spec.depends_on] if spec else []


def _plan_removals(ctx: _Context, counts: _Counts) -> list[str]:
    """Scale-downs and orphans; removals run dependants first (web before db)."""
    desired_names = {c.name for s in ctx.desired for c in s.containers}
    specs = {(c.stack, c.key): c for s in ctx.desired for c in s.containers}
    removed: dict[tuple[str, str], list[str]] = defaultdict(list)
    orphans = []
    for name in sorted(set(ctx.owned) - desired_names):
        seen = ctx.owned[name]
        want, have = counts[(seen.stack, seen.key)]
        action_id = f"{Kind.REMOVE}:{name}"
        if want and name.endswith(NEXT_SUFFIX):
            reason = "left behind by an interrupted start-first rollout"
            if action_id in ctx.drafts:  # a new rollout re-creates the name: debris goes first
                action_id += "@debris"
                ctx.drafts[f"{Kind.CREATE_STOPPED}:{name}"].depends_on.add(action_id)
        elif want:
            replica = seen.labels.get(labels.REPLICA, "?")
            reason = _replicas_phrase(replica, want, have)
        elif ctx.options.prune:
            reason = "no longer in the spec"
        else:
            orphans.append(name)
            continue
        draft = Draft(action_id, Kind.REMOVE, name, reason, seen.stack)
        removed[(seen.stack, seen.key)].append(ctx.add(draft))
    for ids in removed.values():
        for action_id in ids:
            seen = ctx.owned[ctx.drafts[action_id].target]
            for key in _dependency_keys(seen, specs):
                for dependency_id in removed.get((seen.stack, key), ()):
                    ctx.drafts[dependency_id].depends_on.add(action_id)
    return orphans


def _volume_owner(full_name: str, scope: frozenset[str]) -> str | None:
    """The in-scope stack a volume `<stack>-<name>` belongs to. Stack names may contain
    "-", so the longest matching stack name wins (`shop-x-data` is shop-x's)."""
    owners = [s for s in scope if full_name.startswith(f"{s}-") and len(full_name) > len(s) + 1]
    return max(owners, key=len, default=None)


def _plan_volume_removals(ctx: _Context) -> None:
    """`down --volumes`: each volume of an in-scope stack that no stack declares, after the
    removals of that stack's containers (a volume is never removed while one uses it)."""
    declared = {v.full_name for s in ctx.desired for v in s.volumes}
    removals: dict[str, set[str]] = defaultdict(set)
    for draft in ctx.drafts.values():
        if draft.kind == Kind.REMOVE and not draft.rollout:
            removals[draft.stack].add(draft.id)
    for full_name in sorted(ctx.observed.volumes - declared):
        stack = _volume_owner(full_name, ctx.scope)
        if stack is None:
            continue
        volume = VolumeSpec(stack, full_name[len(stack) + 1:])
        draft = Draft(f"{Kind.REMOVE_VOLUME}:{full_name}", Kind.REMOVE_VOLUME, full_name,
                      "down --volumes", stack, volume=volume)
        draft.depends_on.update(removals[stack])
        ctx.add(draft)
