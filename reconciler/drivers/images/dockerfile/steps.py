"""The instructions that make layers: RUN (through the StepRunner), COPY, ADD, WORKDIR.
Each computes its cache key first; a hit reuses the stored result, a miss runs the step,
stores the new layer and remembers it under the key."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.drivers.images.build import LayerItem, write_layer
from reconciler.drivers.images.dockerfile import copying
from reconciler.drivers.images.dockerfile.commit import (
    cache_key,
    cached,
    hashed_values,
    remember,
    state_of,
    store_state,
)  # fmt: skip
from reconciler.drivers.images.dockerfile.errors import DockerfileError
from reconciler.drivers.images.dockerfile.hashcache import HashCache
from reconciler.drivers.images.dockerfile.ignore import IgnoreRules
from reconciler.drivers.images.dockerfile.metadata import command_form
from reconciler.drivers.images.dockerfile.parser import Instruction
from reconciler.drivers.images.dockerfile.stages import PREDEFINED_ARGS
from reconciler.drivers.images.dockerfile.state import BuildState, iso
from reconciler.drivers.images.dockerfile.substitute import word, words
from reconciler.drivers.images.store import ImageRecord, ImageStore
from reconciler.model.errors import ReconcileError
from reconciler.model.records import field, record
from reconciler.support.trees import remove_tree

if TYPE_CHECKING:  # RunJob is made only when a RUN step misses the cache
    from reconciler.drivers.images.dockerfile.runner import StepRunner

OUTPUT_TAIL = 40  # lines of a failed RUN's output shown in the error
_URL_PREFIXES = ("http://", "https://", "git@", "git://", "ftp://")


@record
class StepContext:
    """What a layer step needs of the build it is part of."""

    store: ImageStore
    runner: StepRunner
    request_network: bool
    no_cache: bool
    epoch: int
    file: str
    escape: str
    context_root: Path
    rules: IgnoreRules
    target: str
    build_args: dict[str, str]
    resolve_image: Callable[[str], ImageRecord]
    report: Callable[[str], None] = lambda _line: None
    hashes: HashCache = field(default_factory=lambda: HashCache(None))
    stages: dict[str, BuildState] = field(default_factory=dict)
    used_args: set[str] = field(default_factory=set)

    def fail(self, ins: Instruction, message: str) -> DockerfileError:
        return DockerfileError(self.file, ins.line, f"{ins.keyword} {message}")


def layer_step(state: BuildState, ins: Instruction, ctx: StepContext) -> tuple[BuildState, bool]:
    if ins.keyword == "RUN":
        return _run(state, ins, ctx)
    if ins.keyword == "WORKDIR":
        return _workdir(state, ins, ctx)
    return _copy(state, ins, ctx)


def _commit(state: BuildState, ctx: StepContext, key: str, created_by: str,
            tar: tuple[dict[str, Any], Path] | None) -> BuildState:  # fmt: skip
    new = state.copy()
    if tar is None:
        new.add_history(_created(ctx), created_by, None, None, None)
    else:
        desc = tar[0]
        layer_dir = ctx.store.layers / desc["digest"].split(":", 1)[1]
        new.add_history(_created(ctx), created_by, desc, desc["digest"], layer_dir)
    remember(ctx.store, key, store_state(ctx.store, new, ctx.target, tar))
    return new


def _created(ctx: StepContext) -> str:
    return iso(ctx.epoch)


def _lookup(state: BuildState, ctx: StepContext, key: str) -> BuildState | None:
    return None if ctx.no_cache else cached(ctx.store, key, state)


# -- RUN ----------------------------------------------------------------------------------

def _run_env(state: BuildState, ctx: StepContext) -> dict[str, str]:
    """The ENV of the stage plus its ARGs (ENV wins) and the predefined proxy args."""
    extra = {k: v for k, v in ctx.build_args.items() if k in PREDEFINED_ARGS}
    ctx.used_args.update(extra)
    return {**extra, **state.args, **state.env()}


def _run(state: BuildState, ins: Instruction, ctx: StepContext) -> tuple[BuildState, bool]:
    if ins.flags:
        raise ctx.fail(ins, f"--{ins.flags[0][0]} is not supported (BuildKit only)")
    argv = command_form(state, ins)
    if not argv or not ins.args:
        raise ctx.fail(ins, "needs a command")
    env = _run_env(state, ctx)
    arg_names = sorted(state.args)
    created_by = (f"|{len(arg_names)} {' '.join(arg_names)} " if arg_names else "") + \
        f"RUN {json.dumps(argv)}"
    key = cache_key(state, created_by, extra={"args": hashed_values(state.args),
                                              "network": ctx.request_network})  # fmt: skip
    hit = _lookup(state, ctx, key)
    if hit is not None:
        return hit, True
    upper, work, tar_path = (ctx.store.tmp_path(k) for k in ("run-upper", "run-work", "run.tar"))
    try:
        upper.mkdir(mode=0o755)
        work.mkdir(mode=0o700)
        from reconciler.drivers.images.dockerfile.runner import RunJob

        job = RunJob(tuple(state.layer_dirs), upper, work, tuple(argv),
                     tuple(f"{k}={v}" for k, v in env.items()),
                     str(state.inner.get("User") or ""), str(state.inner.get("WorkingDir") or "/"),
                     ctx.request_network)  # fmt: skip
        try:
            outcome = ctx.runner.run(job)
        except ReconcileError as error:  # the USER is unknown, runc is missing, ...
            raise ctx.fail(ins, f"could not run: {error}") from None
        for line in outcome.output.decode("utf-8", "replace").splitlines():
            ctx.report("  | " + line)
        if outcome.status != 0:
            tail = outcome.output.decode("utf-8", "replace").splitlines()[-OUTPUT_TAIL:]
            shown = "\n".join("  | " + line for line in tail) or "  (no output)"
            raise ctx.fail(ins, f"failed with exit status {outcome.status}; the end of its "
                           f"output:\n{shown}")
        from reconciler.drivers.images.dockerfile import layers  # tarfile: only when RUN ran

        desc = layers.diff_to_tar(upper, tar_path, ctx.epoch)
        return _commit(state, ctx, key, created_by, (desc, tar_path) if desc else None), False
    finally:
        for path in (upper, work, tar_path):
            remove_tree(path)


# -- WORKDIR ------------------------------------------------------------------------------

def _workdir(state: BuildState, ins: Instruction, ctx: StepContext) -> tuple[BuildState, bool]:
    path = word(ins.args, state.substitution_env(), ctx.escape).strip()
    if not path:
        raise ctx.fail(ins, "needs a path")
    path = posixpath.normpath(posixpath.join(str(state.inner.get("WorkingDir") or "/"), path))
    state = state.copy()
    state.inner["WorkingDir"] = path
    key = cache_key(state, f"WORKDIR {path}")
    hit = _lookup(state, ctx, key)
    if hit is not None:
        return hit, True
    rel = path.lstrip("/")
    items: dict[str, LayerItem] = {}
    if rel and not copying.is_dir_in(tuple(state.layer_dirs), rel):
        copying.make_parents(items, rel, tuple(state.layer_dirs), copying.CopyOptions(), True)
    return _commit_items(state, ctx, key, f"WORKDIR {path}", items), False


def _commit_items(state: BuildState, ctx: StepContext, key: str, created_by: str,
                  items: dict[str, LayerItem]) -> BuildState:  # fmt: skip
    if not items:
        return _commit(state, ctx, key, created_by, None)
    tar_path = ctx.store.tmp_path("copy.tar")
    try:
        return _commit(state, ctx, key, created_by, (write_layer(items, tar_path), tar_path))
    finally:
        tar_path.unlink(missing_ok=True)


# -- COPY and ADD -------------------------------------------------------------------------

def _copy(state: BuildState, ins: Instruction, ctx: StepContext) -> tuple[BuildState, bool]:
    env = state.substitution_env()
    for name, _ in ins.flags:
        if name not in ("from", "chown", "chmod"):
            raise ctx.fail(ins, f"--{name} is not supported")
    parts = ([word(p, env, ctx.escape) for p in ins.exec_form] if ins.exec_form is not None
             else words(ins.args, env, ctx.escape))  # fmt: skip
    if len(parts) < 2:
        raise ctx.fail(ins, "needs at least one source and a destination")
    *sources, dest = parts
    if ins.keyword == "ADD" and any(s.startswith(_URL_PREFIXES) for s in sources):
        raise ctx.fail(ins, "from a URL is not supported: download the file into the context "
                       "first (or fetch it in a RUN step)")
    dest = posixpath.join(str(state.inner.get("WorkingDir") or "/"), dest) + \
        ("/" if dest.endswith("/") and dest != "/" else "")
    options = _options(state, ins, ctx)
    with ExitStack() as stack:
        tree = _source_tree(ins, ctx, stack)
        try:
            items = _collect(state, ins, ctx, tree, sources, dest, options, stack)
        except ValueError as error:
            raise ctx.fail(ins, str(error)) from None
        created_by = f"{ins.keyword} {' '.join(f'--{k}={v}' for k, v in ins.flags)} " \
            f"{json.dumps(parts)}".replace("  ", " ")
        key = cache_key(state, created_by, copying.content_hash(items, ctx.hashes))
        hit = _lookup(state, ctx, key)
        if hit is not None:
            return hit, True
        return _commit_items(state, ctx, key, created_by, items), False


def _options(state: BuildState, ins: Instruction, ctx: StepContext) -> copying.CopyOptions:
    owner = mode = None
    chown = ins.flag("chown")
    if chown:
        try:
            owner = ctx.runner.resolve_user(word(chown, state.substitution_env()),
                                            state.layer_dirs)  # fmt: skip
        except Exception as error:
            raise ctx.fail(ins, f"--chown={chown}: {error}") from None
    chmod = ins.flag("chmod")
    if chmod:
        try:
            mode = copying.parse_chmod(chmod)
        except ValueError as error:
            raise ctx.fail(ins, str(error)) from None
    return copying.CopyOptions(owner, mode)


def _source_tree(ins: Instruction, ctx: StepContext, stack: ExitStack) -> copying.SourceTree:
    source = ins.flag("from")
    if not source:
        return copying.SourceTree(ctx.context_root, "the context", ctx.rules)
    stage = ctx.stages.get(source.lower())
    if stage is not None:
        dirs = stage.layer_dirs
    else:
        try:
            dirs = state_of(ctx.store, ctx.resolve_image(source)).layer_dirs
        except Exception as error:
            raise ctx.fail(ins, f"--from={source}: not a stage and not an image ({error})") \
                from None
    root = stack.enter_context(ctx.runner.view(dirs))
    return copying.SourceTree(root, f"--from={source}")


def _collect(state: BuildState, ins: Instruction, ctx: StepContext, tree: copying.SourceTree,
             sources: list[str], dest: str, options: copying.CopyOptions,
             stack: ExitStack) -> dict[str, LayerItem]:  # fmt: skip
    base = tuple(state.layer_dirs)
    if ins.keyword != "ADD":
        return copying.collect(tree, sources, dest, base, options, ctx.target)
    import tarfile

    items: dict[str, LayerItem] = {}
    for name, path in copying.expand_sources(tree, sources):
        if path.is_file() and not path.is_symlink() and tarfile.is_tarfile(path):
            folder = stack.enter_context(_extracted(ctx, path))
            into = dest if dest.endswith("/") else dest + "/"
            items.update(copying.collect(copying.SourceTree(folder, name), ["."], into, base,
                                         options, ctx.target))  # fmt: skip
        else:
            items.update(copying.collect(tree, [name], dest, base, options, ctx.target))
    return items


@contextmanager
def _extracted(ctx: StepContext, archive: Path) -> Iterator[Path]:
    import tarfile

    folder = ctx.store.tmp_path("add")
    try:
        folder.mkdir(mode=0o700)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        yield folder
    finally:
        remove_tree(folder)
