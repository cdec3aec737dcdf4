"""The settled no-op: `reconcile apply` answered without building a model when nothing it
would read has changed since an apply found nothing to do.

When an apply ends converged, it observes once more and plans inside a read log
(support/readlog.py; the stack load's reads were logged too) and, if that plan is empty
with every container of the scope running (a plan that cannot depend on the clock), stores
the log and the text the apply printed under `<state-dir>/cache/settled/KEY.marshal`
(cli/settle.py). KEY hashes everything else the answer depends on: the command words, the
working folder, the variables the CLI and the loader read, the user, whether stdout is a
terminal, and a stamp of reconcile's own code. The next apply with the same KEY checks each
logged read again (one pass over files and listings: the stack files, what they reference,
the state dir's records, the container processes) and, when all hold, prints the stored
text and exits 0: what the full path would have printed and done. Any difference, a
missing or damaged record, a lock held by another apply or a loop's API socket present
takes the full path, which records again. Only digests and paths are stored.

Only the plainest form is answered so: `[--state-dir DIR] [--driver native|docker] apply
[--prune] PATH...` without --host (the docker driver's reads are its engine GETs, signed by
drivers/docker/engine_api.py, and the engine's event anchor, drivers/docker/anchor.py,
which answers for all of them when the engine logged nothing since). This module is
imported before anything else of the CLI and keeps to os, sys, marshal and
support/readsig.py: it is most of what a settled no-op costs (not json: its import brings
`re`, ~10 ms of a docker no-op of ~45 ms; a record is a cache of this reconcile's own,
and its key names the interpreter whose marshal wrote it).
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from reconciler import __version__
from reconciler.support import lockprobe, readsig

FORMAT = "2"
SUFFIX = ".marshal"  # cli/settle.py writes the records with marshal
ENGINE_READ = "engine-get"  # drivers/docker/engine_api.py's READ_KIND
ENGINE_ANCHOR = "engine-events"  # drivers/docker/anchor.py's KIND
_ENGINE = (ENGINE_READ, ENGINE_ANCHOR)
DEFAULT_STATE_DIR = "/var/lib/reconcile"
RUN_SOCKET = "/run/reconcile/api.sock"
_ENV_PREFIXES = ("RECONCILE_", "DOCKER_", "COMPOSE_")
_ENV_NAMES = ("HOME", "PATH", "NO_COLOR", "SOURCE_DATE_EPOCH", "TMPDIR")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(words: list[str]) -> tuple[str, list[str]] | None:
    """(state dir, the command's own words) of an answerable command, else None."""
    state_dir, driver = DEFAULT_STATE_DIR, os.environ.get("RECONCILE_DRIVER") or "native"
    rest = iter(words)
    for word in rest:
        option, eq, value = word.partition("=")
        if option not in ("--state-dir", "--driver"):
            own = [word, *rest]
            return (state_dir, own) if _answerable(own, driver) else None
        value = value if eq else next(rest, "")
        if not value:
            return None
        if option == "--state-dir":
            state_dir = value
        else:
            driver = value
    return None


def _answerable(own: list[str], driver: str) -> bool:
    if own[0] == "apply":
        paths = [w for w in own[1:] if w != "--prune"]
        return driver in ("native", "docker") and bool(paths) and not any(
            w.startswith("-") for w in paths)  # fmt: skip
    return own[:2] == ["images", "build"] and driver == "native" and (
        build_env(own[2:]) is not None)  # fmt: skip


_BUILD_VALUED = ("-t", "--tag", "-f", "--file", "--build-arg", "--target")


def build_env(words: list[str]) -> list[str] | None:
    """The variables a build's bare `--build-arg NAME` take from the environment, when the
    words are `images build`'s plain form (valued options, --network, one CONTEXT)."""
    names, contexts, rest = [], 0, iter(words)
    for word in rest:
        option, eq, value = word.partition("=")
        if option in _BUILD_VALUED:
            value = value if eq else next(rest, "")
            if not value:
                return None
            if option == "--build-arg" and "=" not in value:
                names.append(value)
        elif word == "--network":
            continue
        elif word.startswith("-"):
            return None  # --no-cache and anything else: the full path
        else:
            contexts += 1
    return names if contexts == 1 else None


def key_for(words: list[str]) -> tuple[str, str] | None:
    """(state dir, record key) of an answerable command, else None."""
    parsed = parse(words)
    if parsed is None or os.environ.get("RECONCILE_HOST"):
        return None
    state_dir, own = parsed
    named = build_env(own[2:]) if own[0] == "images" else []
    env = sorted((k, v) for k, v in os.environ.items()
                 if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES or k in (named or ()))
    material = [FORMAT, __version__, sys.version, code_stamp(), os.getuid(), os.getcwd(),
                words, env, sys.stdout.isatty()]  # the interpreter too: marshal's format
    raw = repr(material).encode("utf-8", "surrogateescape")
    return state_dir, readsig.digest(raw)


def code_stamp() -> str:
    """Size and mtime of every file of the package: edited code never answers from old
    records (a checkout as much as an install). Taken once a process (~250 stats): the
    answer's key and the record's, which an apply computes again, describe the code
    that was started."""
    global _code_stamp
    if _code_stamp is None:
        _code_stamp = _stamp_of_package()
    return _code_stamp


_code_stamp: str | None = None


def _stamp_of_package() -> str:
    stamps, folders = [], [_PACKAGE]
    while folders:  # iterative; links are not followed
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                else:
                    st = entry.stat(follow_symlinks=False)
                    stamps.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")
    return readsig.digest("\n".join(sorted(stamps)).encode("utf-8", "surrogateescape"))


def record_path(state_dir: str, key: str) -> str:
    return os.path.join(state_dir, "cache", "settled", f"{key}{SUFFIX}")


def answer(words: list[str]) -> int | None:
    """0 after printing the settled answer, or None: take the full path."""
    started = time.monotonic()
    found = key_for(words)
    if found is None:
        return None
    state_dir, key = found
    if os.path.lexists(loop_socket(state_dir)) or lockprobe.lock_held(state_dir):
        return None
    try:
        with open(record_path(state_dir, key), "rb") as f:
            doc = marshal.loads(f.read())
        reads, output = doc["reads"], doc["output"]
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    if doc.get("format") != FORMAT or not isinstance(output, str):
        return None
    engine = [entry for entry in reads if entry[0] in _ENGINE]
    if not readsig.unchanged([entry for entry in reads if entry[0] not in _ENGINE]):
        return None
    if engine and not _engine_unchanged(engine):  # after the files: they are cheaper
        return None
    sys.stdout.write(output)
    if isinstance(build := doc.get("build"), dict):
        _built(state_dir, build, started)
    sys.stdout.flush()
    return 0


def _built(state_dir: str, build: dict[str, object], started: float) -> None:
    """What a build prints and journals after its steps (cli/imagebuild.py and the
    journal's tag events), for a rebuild answered from its record."""
    from pathlib import Path

    from reconciler.support.events import append_event

    tags = [str(tag) for tag in build["tags"]]  # type: ignore[attr-defined]
    for tag in tags:
        append_event(Path(state_dir), "image-tagged", tag, driver="native",
                     digest=build["digest"], why="build")  # fmt: skip
    sys.stdout.write(f"built {build['digest']} (0 steps run, {build['cached']} cached, "
                     f"{time.monotonic() - started:.2f}s)\n")
    sys.stdout.write("".join(f"tagged {tag}\n" for tag in tags))


def _engine_unchanged(entries: list[list[str]]) -> bool:
    """The docker driver's reads: for an engine whose event log shows nothing after the
    recorded anchor, that one answer (drivers/docker/anchor.py); else its GETs, signed again
    by its engine client (imported only then)."""
    from reconciler.drivers.docker import anchor

    proven = {host for kind, host, sig in entries
              if kind == ENGINE_ANCHOR and anchor.unchanged(host, sig)}  # fmt: skip
    gets = [entry for entry in entries if entry[0] == ENGINE_READ
            and entry[1].partition(" ")[0] not in proven]  # fmt: skip
    if not gets:
        return True
    from reconciler.drivers.docker import engine_api

    now = engine_api.signatures_now([key for _, key, _ in gets])
    return all(now.get(key) == sig for _, key, sig in gets)


def loop_socket(state_dir: str) -> str:
    """A loop's API socket (cli/remote.py): apply goes to the loop then, not here."""
    if os.path.abspath(state_dir) == DEFAULT_STATE_DIR:
        return RUN_SOCKET
    return os.path.join(os.path.abspath(state_dir), "api.sock")
