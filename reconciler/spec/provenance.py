"""Provenance: the git commit a stack file was read at (`inspect`, `ps -o json`).

`git rev-parse` in the stack file's folder; "" when the folder is in no git work tree, git
is missing, or the repository has no commit yet. Stack folders are often checkouts owned by
a CI user while reconcile runs as root, and git then refuses "dubious ownership": the check
guards commands that run programs from the repository's config (hooks, fsmonitor); plain
`rev-parse` runs none, so it is lifted for this one call, and fsmonitor is off besides.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # sha1 or sha256 object names


def _in_a_work_tree(folder: Path) -> bool:
    """False when no folder from `folder` up to / holds a `.git`: git (run without GIT_DIR)
    then finds no repository either, and the program need not be started (a no-op apply
    of stacks outside git pays no process for it)."""
    here = folder.absolute()
    for candidate in (here, *here.parents):
        if os.path.lexists(os.path.join(candidate, ".git")):
            return True
    return False


def git_commit(folder: Path) -> str:
    if not _in_a_work_tree(folder):
        return ""
    import subprocess  # only where there is a repository to ask

    # GIT_DIR and friends of the caller's environment must not point elsewhere; git has
    # no business seeing the age key.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "RECONCILE_AGE_KEY"))}
    argv = ["git", "-c", "safe.directory=*", "-c", "core.fsmonitor=false", "-C", str(folder),
            "rev-parse", "--verify", "--quiet", "HEAD^{commit}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT.match(commit) else ""
