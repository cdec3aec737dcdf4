"""The control loop's desired state: every watched stack file, each at its last good version.

A file that becomes invalid keeps its last good stack in force (nothing of it is stopped or
replaced because of a typo) and carries the problems, with file:line:col, until it is
fixed. A deleted file's stack stays in scope, so its containers are removed (--prune) or
reported as orphans.

An entry can be `held` (`reconcile sync` put an older revision in force by a rollback):
reloads leave it alone until the watched file's content differs from what it was when the
hold began. `reconcile sync` also names the commit its files come from (`commit`): its
tree is an export, not a git work tree, so provenance could not find it there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.loop.watch import is_stack_file
from reconciler.model.desired import Desired, DesiredStack
from reconciler.model.errors import SpecError
from reconciler.model.records import field, record, replace
from reconciler.spec.stacks import load_stacks

if TYPE_CHECKING:
    from reconciler.spec.compose.entry import ComposeRequest


@record
class StackEntry:
    path: str
    stack: DesiredStack | None = None  # the last good version; None until one loaded
    revision: str = ""  # sha256 (12 hex) of the last good file content
    loaded_at: float | None = None
    applied_at: float | None = None  # last convergence that ran with this revision
    problems: list[str] = field(default_factory=list)  # of the current content; [] when good
    seen: str = ""  # sha256 of the content last looked at (good or not)
    deleted: bool = False
    held: str = ""  # digest of the watched content when a hold began ("" = not held)

    @property
    def name(self) -> str:
        return self.stack.name if self.stack is not None else ""


@record(frozen=True)
class Change:
    """What one reload found, for the loop's log and journal."""

    path: str
    kind: str  # "loaded", "invalid", "deleted", "unchanged"
    stack: str = ""
    revision: str = ""
    problems: tuple[str, ...] = ()


ABSENT = "absent"  # `held` of a stack whose file was gone when the hold began


def content_digest(path: Path) -> str:
    """What `held` compares: the digest of the file's content, or ABSENT."""
    try:
        return _digest(path.read_bytes())
    except OSError:
        return ABSENT


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def with_commit(stack: DesiredStack, commit: str, force: bool = False) -> DesiredStack:
    """The stack with `commit` as the provenance of containers that have none (`force`:
    of all). The commit is out of the config hash: nothing is replaced for it."""
    if not commit:
        return stack
    return replace(stack, containers=tuple(
        replace(c, source_commit=commit if force else c.source_commit or commit)
        for c in stack.containers))


def same_content(a: DesiredStack | None, b: DesiredStack | None) -> bool:
    """Equal but for provenance: a commit that changed nothing of a stack deploys nothing."""
    return a is not None and b is not None and with_commit(a, "-", force=True) == \
        with_commit(b, "-", force=True)


class StackSet:
    def __init__(self, sources: Iterable[Path], commit: Callable[[], str] | None = None,
                 compose: ComposeRequest | None = None) -> None:
        self.sources = [Path(s).absolute() for s in sources]
        self.entries: dict[str, StackEntry] = {}
        self.commit = commit or (lambda: "")  # the commit the files are at, if known
        self.compose = compose  # -p, --env-file, --profile, --strict for Compose files

    def files(self) -> list[str]:
        """The stack files that exist now: folders' *.yaml/*.yml and the named files."""
        found: set[str] = set()
        for source in self.sources:
            if source.is_dir():
                found.update(str(p) for p in source.iterdir()
                             if p.is_file() and is_stack_file(str(p)))
            elif source.is_file():
                found.add(str(source))
        return sorted(found)

    def reload(self, paths: Iterable[str] | None = None, force: bool = False) -> list[Change]:
        """Look at `paths` (default: every file, known or new); `force` re-reads unchanged
        content too (a resync: referenced env files or bind sources may have changed)."""
        wanted = set(self.files()) | set(self.entries) if paths is None else set(paths)
        return [self._reload_one(path, force) for path in sorted(wanted)]

    def _reload_one(self, path: str, force: bool) -> Change:
        entry = self.entries.setdefault(path, StackEntry(path))
        try:
            data = Path(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            if entry.held == ABSENT:
                return Change(path, "unchanged", entry.name, entry.revision)
            entry.held = ""
            if entry.stack is None:
                del self.entries[path]
                return Change(path, "unchanged")
            entry.deleted, entry.problems, entry.seen = True, [], ""
            return Change(path, "deleted", entry.name, entry.revision)
        except OSError as exc:
            return self._invalid(entry, "", [f"{path}: cannot read: {exc}"])
        seen = _digest(data)
        if entry.held == seen:
            return Change(path, "unchanged", entry.name, entry.revision)
        if entry.held:  # the file changed since the hold began: it is in force again
            entry.held, force = "", True
        if seen == entry.seen and not force and not entry.deleted:
            return Change(path, "unchanged", entry.name, entry.revision)
        try:
            desired = load_stacks([path], compose=self.compose)
        except SpecError as err:
            return self._invalid(entry, seen, [str(p) for p in err.problems])
        stack = with_commit(desired.stacks[0], self.commit())
        clash = self._name_clash(path, stack.name)
        if clash:
            return self._invalid(entry, seen, [f"{path}: stack {stack.name!r} is already "
                                               f"defined by {clash}; kept the last good version"])
        entry.stack, entry.revision, entry.seen = stack, seen, seen
        entry.problems, entry.deleted, entry.loaded_at = [], False, time.time()
        return Change(path, "loaded", stack.name, seen)

    def _invalid(self, entry: StackEntry, seen: str, problems: list[str]) -> Change:
        entry.problems, entry.seen, entry.deleted = problems, seen, False
        return Change(entry.path, "invalid", entry.name, entry.revision, tuple(problems))

    def _name_clash(self, path: str, name: str) -> str:
        for other in self.entries.values():
            if other.path != path and not other.deleted and other.name == name:
                return other.path
        return ""

    def desired(self) -> Desired:
        live = [e.stack for e in self.entries.values() if e.stack is not None and not e.deleted]
        return Desired(tuple(sorted(live, key=lambda s: s.name)))

    def scope(self) -> frozenset[str]:
        """Stacks this loop manages: every stack a watched file defined, deleted ones too."""
        return frozenset(e.name for e in self.entries.values() if e.stack is not None)

    def mark_applied(self, when: float) -> None:
        for entry in self.entries.values():
            if entry.stack is not None and not entry.deleted:
                entry.applied_at = when

    def forget_deleted(self, still_owned: frozenset[str]) -> None:
        """A deleted file's entry goes once none of its containers is left."""
        for path, entry in list(self.entries.items()):
            if entry.deleted and entry.name not in still_owned:
                del self.entries[path]
