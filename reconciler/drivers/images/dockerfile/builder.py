"""Build a Dockerfile into the image store: stages in order, each instruction applied to
the stage's state; RUN, COPY, ADD and WORKDIR make layers (cached, dockerfile/commit.py),
the others change the config. Nothing is tagged here: the caller tags the returned digest
once the whole build succeeded."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.drivers.images.dockerfile import metadata, stages
from reconciler.drivers.images.dockerfile.commit import state_of, store_state
from reconciler.drivers.images.dockerfile.errors import DockerfileError
from reconciler.drivers.images.dockerfile.hashcache import HashCache
from reconciler.drivers.images.dockerfile.ignore import IgnoreRules, parse_ignore
from reconciler.drivers.images.dockerfile.parser import Instruction, parse
from reconciler.drivers.images.dockerfile.state import BuildState, begin_stage, iso, scratch_state
from reconciler.drivers.images.dockerfile.steps import StepContext, layer_step
from reconciler.drivers.images.dockerfile.substitute import SubstitutionError
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.model.build import BuildRequest, BuildResult, StepReport

if TYPE_CHECKING:
    from reconciler.drivers.images.dockerfile.runner import StepRunner

LAYER_STEPS = ("RUN", "COPY", "ADD", "WORKDIR")
HASH_CACHE = "build-hashes.json"  # in the store: the context files' hashes by stat


def build_epoch(request: BuildRequest) -> int:
    if request.source_date_epoch is not None:
        return request.source_date_epoch
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else 0


class Builder:
    def __init__(self, store: ImageStore, runner: StepRunner,
                 resolve_image: Callable[[str], ImageRecord],
                 report: Callable[[str], None] = lambda _line: None) -> None:  # fmt: skip
        self.store = store
        self.runner = runner
        self.resolve_image = resolve_image
        self.report = report

    def build(self, request: BuildRequest, target: str) -> BuildResult:
        path = request.dockerfile_path
        shown = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise DockerfileError(str(path), 0, f"cannot read the Dockerfile: {error.strerror}") \
                from None
        dockerfile = parse(text, shown)
        plan = stages.plan(dockerfile, request.args, shown)
        final = stages.target_stage(plan, request.target, shown)
        context = StepContext(
            store=self.store, runner=self.runner, request_network=request.network,
            no_cache=request.no_cache, epoch=build_epoch(request), file=shown,
            escape=dockerfile.escape, context_root=request.context,
            rules=_ignore_rules(request.context), target=target,
            build_args=dict(request.args), resolve_image=self.resolve_image, report=self.report,
            hashes=HashCache(self.store.root / HASH_CACHE, request.context, not request.no_cache),
        )  # fmt: skip
        result = BuildResult()
        built: dict[int, BuildState] = {}
        try:
            for stage in _needed(plan, final, shown):
                built[stage.index] = self._stage(stage, plan, built, context, result)
        finally:  # what was hashed holds whether or not the build succeeded
            context.hashes.save()
        state = built[final.index]
        state.config["created"] = iso(context.epoch)
        result.digest = store_state(self.store, state, target)
        used = context.used_args
        result.unused_args = sorted(name for name in request.args if name not in used)
        return result

    def _stage(self, stage: stages.Stage, plan: stages.Plan, built: dict[int, BuildState],
               context: StepContext, result: BuildResult) -> BuildState:  # fmt: skip
        self.report(f"stage {stage.name or stage.index}: FROM {stage.base}")
        state = self._base(stage, plan, built, context)
        begin_stage(state)
        context.stages = {s.name: built[s.index] for s in plan.stages if s.index in built}
        context.stages.update({str(index): st for index, st in built.items()})
        for ins in stage.instructions:
            state = self._step(state, ins, plan, context, result)
        return state

    def _base(self, stage: stages.Stage, plan: stages.Plan, built: dict[int, BuildState],
              context: StepContext) -> BuildState:  # fmt: skip
        if stage.base.lower() == "scratch":
            return scratch_state()
        earlier = stages.find_stage(plan.stages, stage.base, stage.index)
        if earlier is not None:
            state = built[earlier.index].copy()
            state.cmd_set, state.args = False, {}
            return state
        try:
            record = self.resolve_image(stage.base)
        except DockerfileError:
            raise
        except Exception as error:  # a pull's or a stack key's failure, located
            raise DockerfileError(context.file, stage.line, f"FROM {stage.base}: {error}") \
                from error
        state = state_of(self.store, record)
        return state

    def _step(self, state: BuildState, ins: Instruction, plan: stages.Plan,
              context: StepContext, result: BuildResult) -> BuildState:  # fmt: skip
        shown = ins.text
        self.report(f"line {ins.line}: {shown}")
        try:
            if ins.keyword == "ARG":
                _declare_args(state, ins, plan, context)
                return state
            if ins.keyword in LAYER_STEPS:
                new_state, was_cached = layer_step(state, ins, context)
                self.report("  cached" if was_cached else "  done")
                result.steps.append(StepReport(ins.line, shown, was_cached, not was_cached))
                return new_state
            metadata.APPLY[ins.keyword](state, ins, context.escape)
        except (ValueError, SubstitutionError) as error:
            raise DockerfileError(context.file, ins.line, f"{ins.keyword}: {error}") from None
        state.add_history(iso(context.epoch), shown, None, None, None)
        return state


def _declare_args(state: BuildState, ins: Instruction, plan: stages.Plan,
                  context: StepContext) -> None:  # fmt: skip
    """An ARG in a stage: the --build-arg value, else its default, else (for a name
    declared before FROM) the global value."""
    for name, default in stages.parse_arg(ins, state.substitution_env(), context.escape,
                                          context.file):  # fmt: skip
        context.used_args.add(name)
        if name in context.build_args:
            state.args[name] = context.build_args[name]
        elif default is not None:
            state.args[name] = default
        elif plan.global_args.get(name) is not None:
            state.args[name] = str(plan.global_args[name])
        else:
            state.args.pop(name, None)


def _needed(plan: stages.Plan, final: stages.Stage, file: str) -> list[stages.Stage]:
    """The target and the stages it uses (FROM a stage, COPY --from a stage), in order."""
    wanted = {final.index}
    for stage in reversed(plan.stages[: final.index + 1]):
        if stage.index not in wanted:
            continue
        refs = [stage.base] + [ins.flag("from") or "" for ins in stage.instructions
                               if ins.keyword in ("COPY", "ADD")]  # fmt: skip
        for ref in refs:
            earlier = stages.find_stage(plan.stages, ref, stage.index) if ref else None
            if earlier is not None:
                wanted.add(earlier.index)
    return [s for s in plan.stages if s.index in wanted]


def _ignore_rules(context: Path) -> IgnoreRules:
    try:
        return parse_ignore((context / ".dockerignore").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return IgnoreRules()
