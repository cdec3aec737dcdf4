"""The git side of `reconcile sync`: a private bare mirror, fetched and read with the `git`
command.

Why the command and not a library: `git` is what the user's repository host, credential
helpers, SSH config, `file://` remotes and `git verify-commit` (signatures through the
user's GnuPG) already work with, it is in every distribution, and its output formats used
here are stable plumbing. A library (pygit2, dulwich) would re-implement transports and
signature checking, and would need a compiled dependency or lag behind git's protocols.

Every fetch is `+<ref>:refs/reconcile/head` (forced): a force-push or rewritten history
just moves the ref, and the commit id is compared, never assumed to be a fast-forward.
A revision is exported with `git archive` into a fresh folder that is renamed into place
when complete, so a reader never sees half a checkout.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from reconciler.model.errors import ReconcileError
from reconciler.model.records import record
from reconciler.support.trees import remove_tree

HEAD = "refs/reconcile/head"
TIMEOUT = 300.0  # seconds for one git command (a fetch of a large repository)


class GitError(ReconcileError):
    """A git command failed: unreachable remote, unknown ref, bad signature, ..."""


@record(frozen=True)
class Commit:
    id: str
    author: str  # "Name <email>"
    subject: str
    time: float  # committer time

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.id, "author": self.author, "subject": self.subject,
                "time": self.time}

    def event_fields(self) -> dict[str, Any]:
        """For the journal, whose records' own `time` is when the event happened."""
        return {"commit": self.id, "author": self.author, "subject": self.subject,
                "commit_time": self.time}


def _env(gnupghome: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    if gnupghome is not None:
        env["GNUPGHOME"] = str(gnupghome)
    return env


class GitMirror:
    def __init__(self, url: str, root: Path) -> None:
        if url.startswith("-"):
            raise GitError(f"{url!r} is not a repository URL or path")
        self.url, self.root = url, root

    def _git(self, *args: str, gnupghome: Path | None = None) -> str:
        try:
            done = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True,
                                  text=True, timeout=TIMEOUT, env=_env(gnupghome), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {args[0]}: {exc}") from exc
        if done.returncode != 0:
            lines = [x.strip() for x in (done.stderr or done.stdout).splitlines() if x.strip()]
            raise GitError(f"git {args[0]} failed: {' / '.join(lines[:2]) or done.returncode}")
        return done.stdout

    def fetch(self, ref: str) -> str:
        """Fetch `ref` (a branch, tag or full ref name) from the remote; its commit id."""
        if not (self.root / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._git("init", "--bare", "-q")
        self._git("fetch", "--force", "--no-tags", "--no-write-fetch-head", "-q",
                  self.url, f"+{ref}:{HEAD}")
        return self._git("rev-parse", "--verify", f"{HEAD}^{{commit}}").strip()

    def commit(self, commit: str) -> Commit:
        out = self._git("show", "-s", "--format=%H%n%an <%ae>%n%ct%n%s", commit, "--")
        cid, author, when, subject = [*out.split("\n", 3), "", "", ""][:4]
        return Commit(cid, author, subject.strip(), float(when or 0))

    def keep(self, commit: str) -> None:
        """Keep an applied commit reachable in the mirror (a rollback target), whatever
        the remote's history becomes."""
        self._git("update-ref", f"refs/reconcile/applied/{commit}", commit)

    def verify(self, commit: str, keyring: Path) -> None:
        """Refuse a commit not signed by a key in `keyring` (a GnuPG home folder)."""
        try:
            self._git("verify-commit", commit, gnupghome=keyring)
        except GitError as err:
            raise GitError(f"commit {commit[:12]} is not signed by a key in {keyring}: "
                           f"{err}") from err

    def export(self, commit: str, dest: Path) -> None:
        """The commit's whole tree into `dest` (made complete under a temp name first)."""
        if dest.exists():
            return
        tmp = dest.with_name(f".{dest.name}.tmp")
        remove_tree(tmp)
        tmp.mkdir(parents=True, mode=0o700)
        if not self._git("ls-tree", "--name-only", commit).strip():
            os.replace(tmp, dest)  # an empty tree (every file deleted): tar has no header
            return
        with subprocess.Popen(["git", "-C", str(self.root), "archive", "--format=tar", commit],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=_env()) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                    tar.extractall(tmp, filter="data")  # no links out, no devices
            except tarfile.TarError as exc:
                raise GitError(f"git archive {commit[:12]}: {exc}") from exc
            error = proc.stderr.read().decode(errors="replace").strip()
        if proc.returncode != 0:
            remove_tree(tmp)
            raise GitError(f"git archive {commit[:12]} failed: {error}")
        os.replace(tmp, dest)
