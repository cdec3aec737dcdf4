"""Command-line entry point: parse arguments, convert errors to exit codes.

Exit codes: 0 success / nothing to do; 1 failure; 2 changes pending
(`plan --detailed-exitcode`); 3 invalid input.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.context import Context
from reconciler.model.errors import ReconcileError, SpecError
from reconciler.support.gcpause import paused_gc
from reconciler.support.logsetup import configure_logging, logger

if TYPE_CHECKING:
    from reconciler.drivers.base import FullDriver

DEFAULT_STATE_DIR = "/var/lib/reconcile"
PARALLELISM_HELP = "actions run at once (default: the driver's; docker 16, native 4)"
# the global options that take a value: what command_of() skips to find the command
_VALUED = ("--driver", "--state-dir", "--log-format", "--insecure-registry",
           "--registry-config", "--pull-timeout", "--age-key-file", "--host", "--token-file",
           "--tls-ca")


class Formatter(argparse.HelpFormatter):
    """argparse's help layout with the terminal's width found as shutil finds it: argparse
    itself imports shutil (and with it bz2 and lzma) at every add_argument, ~3 ms."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:  # fmt: skip
        super().__init__(prog, indent_increment, max_help_position,
                         width if width is not None else terminal_columns() - 2)


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Subcommands:
    """argparse's subparsers, building only the parser of the command asked for: building
    all of them costs ~15 ms, a tenth of a no-op apply. `only` None: all (for --help and
    for errors that list the commands)."""

    def __init__(self, action: argparse._SubParsersAction[argparse.ArgumentParser],
                 only: str | None) -> None:  # fmt: skip
        self.action, self.only = action, only

    def add(self, name: str, **kwargs: Any) -> argparse.ArgumentParser | None:
        if self.only is not None and name != self.only:
            return None
        return self.action.add_parser(name, formatter_class=Formatter, **kwargs)


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of `argv`, or None when it cannot be told (help asked for, no
    command, or an option spelled so that its value might be taken for the command)."""
    tokens = iter(argv)
    for token in tokens:
        if token in ("-h", "--help"):
            return None
        if token.startswith("--") and "=" not in token:
            if any(option.startswith(token) for option in _VALUED):
                next(tokens, None)  # its value
            continue
        if not token.startswith("-"):
            return token
    return None


def _add_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="FILE|DIR",
                   help="stack files, Compose files or folders")
    _add_compose(p)


def _add_compose(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Compose input (docs/compose.md)")
    g.add_argument("-f", "--file", action="append", dest="compose_files", metavar="FILE",
                   help="a Compose file; repeat to merge several into one project")
    g.add_argument("-p", "--project-name", metavar="NAME", help="the Compose project name")
    g.add_argument("--env-file", action="append", metavar="FILE",
                   help="variables for interpolation (default: .env next to the file)")
    g.add_argument("--profile", action="append", metavar="NAME",
                   help="also the services of this Compose profile")
    g.add_argument("--strict", action="store_true",
                   help="a Compose key reconcile ignores is an error (exit 3), not a warning")


def _add_output(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("-o", "--output", choices=choices, default="text")


def _spec_commands(sub: Subcommands) -> None:
    if p := sub.add("validate", help="check stack files"):
        _add_paths(p)
        _add_output(p, ["text", "json", "sarif"])
    if p := sub.add("plan", help="show what apply would do, and why"):
        _add_paths(p)
        _add_output(p, ["text", "json", "markdown"])
        p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes pend")
        p.add_argument("--prune", action="store_true", help="plan removal of orphans")
        p.add_argument("--out", type=Path, metavar="FILE",
                       help="also save the plan, with fingerprints of the host and the stacks, "
                       "for apply --plan FILE")
    if p := sub.add("apply", help="converge the host on the stacks"):
        p.add_argument("paths", nargs="*", metavar="FILE|DIR",
                       help="stack files, Compose files or folders (with --plan: default, the "
                       "plan's own)")
        _add_compose(p)
        p.add_argument("--plan", type=Path, metavar="FILE", dest="saved_plan",
                       help="apply exactly this saved plan (plan --out), or refuse if it is stale")
        _add_output(p, ["text", "json", "markdown"])
        p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        p.add_argument("--prune", action="store_true", help="remove orphans of these stacks")
        p.add_argument("--parallelism", type=int, default=None, help=PARALLELISM_HELP)
        p.add_argument("--wait-timeout", default="120s",
                       help="how long to wait for depends_on healthy/completed conditions")
    if p := sub.add("convert", help="print the stack file equivalent to Compose files"):
        _add_paths(p)
    if p := sub.add("down", help="remove everything a stack owns"):
        p.add_argument("stacks", nargs="+", metavar="STACK|FILE")
        p.add_argument("--volumes", action="store_true", help="remove named volumes too")
        p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        _add_output(p, ["text", "json", "markdown"])
    _loop_commands(sub)


def _loop_commands(sub: Subcommands) -> None:
    if p := sub.add("run", help="the control loop: keep the host equal to watched stacks"):
        p.add_argument("paths", nargs="*", metavar="FILE", help="stack or Compose files to watch")
        _add_compose(p)
        p.add_argument("--watch", action="append", default=[], metavar="DIR",
                       help="a folder of stack files (repeatable)")
        p.add_argument("--resync", default="30s", help="full re-read and converge period")
        p.add_argument("--prune", action="store_true",
                       help="remove containers of deleted stack files (else: orphans)")
        p.add_argument("--parallelism", type=int, default=None, help=PARALLELISM_HELP)
        _add_api(p)
    if p := sub.add("status", help="what the control loop manages and how it went"):
        _add_output(p, ["text", "json"])
    _sync_commands(sub)


def _add_api(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the loop's HTTP API (docs/api.md)")
    g.add_argument("--api-socket", type=Path, metavar="PATH",
                   help="its unix socket (default /run/reconcile/api.sock, or api.sock in a "
                   "--state-dir other than the default)")
    g.add_argument("--api-group", metavar="GROUP", help="the socket's group (mode 0660)")
    g.add_argument("--no-api", action="store_true", help="serve no API")
    g.add_argument("--listen", metavar="HOST:PORT",
                   help="also serve on TCP (needs --token-file; TLS off loopback)")
    g.add_argument("--tls-cert", type=Path, metavar="FILE", help="the TCP listener's certificate")
    g.add_argument("--tls-key", type=Path, metavar="FILE", help="... and its private key")
    g.add_argument("--token-file", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                   help="the bearer token every TCP request must carry (as the global option)")


def _sync_commands(sub: Subcommands) -> None:
    if p := sub.add("sync", help="the control loop on a git ref: pull, converge, roll back"):
        p.add_argument("--repo", required=True, metavar="URL|PATH", help="the git repository")
        p.add_argument("--ref", default="main", help="branch, tag or full ref to follow")
        p.add_argument("--path", default=".", help="the folder of stack files in the repository")
        p.add_argument("--interval", default="30s", help="how often to fetch")
        p.add_argument("--webhook", metavar="HOST:PORT",
                       help="listen for signed push events here (default: no listener)")
        p.add_argument("--webhook-secret-file", metavar="FILE", help="the webhook's HMAC secret")
        p.add_argument("--verify-signatures", action="store_true",
                       help="refuse commits not signed by a key in --keyring")
        p.add_argument("--keyring", metavar="DIR", help="a GnuPG home with the allowed keys")
        p.add_argument("--health-deadline", default="2m",
                       help="how long a new revision may take to be ready before it is rolled "
                       "back (a stack's update.deadline wins)")
        p.add_argument("--resync", default="30s", help="full re-read and converge period")
        p.add_argument("--prune", action="store_true",
                       help="remove containers of stack files deleted from the repository")
        p.add_argument("--parallelism", type=int, default=None, help=PARALLELISM_HELP)
        _add_api(p)
    if p := sub.add("history", help="the revisions `sync` applied to a stack"):
        p.add_argument("stack", metavar="STACK")
        _add_output(p, ["text", "json"])
    if p := sub.add("rollback", help="put an earlier revision of a stack back"):
        p.add_argument("stack", metavar="STACK")
        p.add_argument("revision", nargs="?", metavar="REV",
                       help="a commit (prefix) from `history` (default: the previous good one)")
        p.add_argument("--timeout", default="60s", help="how long to wait for the running loop")


def _ops_commands(sub: Subcommands) -> None:
    if p := sub.add("ps", help="list containers"):
        p.add_argument("stacks", nargs="*", metavar="STACK")
        _add_output(p, ["text", "json"])
    if p := sub.add("inspect", help="everything known about a container"):
        p.add_argument("name", metavar="STACK/NAME")
        p.add_argument("--show-secrets", action="store_true",
                       help="print env values that look secret (masked by default)")
    if p := sub.add("logs", help="a container's output"):
        p.add_argument("name", metavar="STACK/NAME")
        p.add_argument("-f", "--follow", action="store_true")
        p.add_argument("--tail", type=int)
        p.add_argument("--since", help="a duration (10m) or a Unix time")
    if p := sub.add("exec", help="run a command in a container"):
        p.add_argument("-i", "--interactive", action="store_true")
        p.add_argument("-t", "--tty", action="store_true")
        p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("-u", "--user")
        p.add_argument("-w", "--workdir")
        p.add_argument("name", metavar="STACK/NAME")
        p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    if p := sub.add("stats", help="cpu, memory and pids from the cgroup"):
        p.add_argument("names", nargs="*", metavar="STACK/NAME")
        _add_output(p, ["text", "json"])
    if p := sub.add("kill", help="send a signal"):
        p.add_argument("-s", "--signal", default="SIGKILL")
        p.add_argument("name", metavar="STACK/NAME")
    for verb in ("pause", "unpause", "stop", "start", "restart"):
        if p := sub.add(verb, help=f"{verb} a container"):
            p.add_argument("name", metavar="STACK/NAME")
    if p := sub.add("events", help="what happened to containers"):
        p.add_argument("-f", "--follow", action="store_true")
        p.add_argument("--since", help="a duration (10m) or a Unix time")
        _add_output(p, ["text", "json"])
    if p := sub.add("images", help="manage the image store"):
        p.add_argument("verb", choices=["ls", "rm", "prune", "pull", "push", "tag", "build"])
        p.add_argument("refs", nargs="*", metavar="DIGEST|REF|CONTEXT")
        p.add_argument("--from", dest="source", metavar="LOCALREF",
                       help="push: the local image to push as REF (default: REF itself)")
        _add_build_options(p)
        _add_output(p, ["text", "json"])
    sub.add("info", help="host facts and configuration")
    sub.add("version", help="print the version")


def _add_build_options(p: argparse.ArgumentParser) -> None:
    """`images build`'s options (docker build's names)."""
    p.add_argument("-t", "--tag", action="append", default=[], metavar="REF",
                   help="build: name the result (repeatable)")
    p.add_argument("-f", "--file", type=Path, metavar="DOCKERFILE",
                   help="build: the Dockerfile (default CONTEXT/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="build: set an ARG (NAME alone takes it from the environment)")
    p.add_argument("--target", help="build: the stage to build (default the last)")
    p.add_argument("--no-cache", action="store_true", help="build: ignore the layer cache")
    p.add_argument("--network", action="store_true",
                   help="build: RUN steps get the host's network (default none)")


def _add_remote(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="URL", default=os.environ.get("RECONCILE_HOST"),
                        help="a running loop's API: unix://PATH, https://HOST:PORT or "
                        "http://127.0.0.1:PORT (also RECONCILE_HOST; default: the loop of "
                        "--state-dir when its socket answers)")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        default=os.environ.get("RECONCILE_TOKEN_FILE") or None,
                        help="the API's bearer token (run: the one clients must send); "
                        "also RECONCILE_TOKEN_FILE")
    parser.add_argument("--tls-ca", type=Path, metavar="FILE",
                        help="the CA certificate an https:// --host is checked against")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `only` a command's name, the parser of that one command
    (the same arguments parse the same way)."""
    parser = argparse.ArgumentParser(prog="reconcile", description=__doc__,
                                     formatter_class=Formatter)
    parser.add_argument("--driver", choices=["native", "docker"],
                        default=os.environ.get("RECONCILE_DRIVER") or "native",
                        help="native (default; runc, no daemon) or docker (a Docker Engine at "
                        "$DOCKER_HOST); also RECONCILE_DRIVER")
    parser.add_argument("--state-dir", type=Path, default=Path(DEFAULT_STATE_DIR))
    parser.add_argument("--log-format", choices=["console", "json"], default="console")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]",
                        help="allow plain http to this registry (loopback always is)")
    parser.add_argument("--registry-config", type=Path, metavar="FILE",
                        help="Docker config.json with registry credentials "
                        "(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
    parser.add_argument("--pull-timeout", type=float, metavar="SECONDS",
                        help="give up a pull after this long (default 1800)")
    parser.add_argument("--age-key-file", type=Path, metavar="FILE",
                        help="age identity for encrypted env and secret files "
                        "(default: the RECONCILE_AGE_KEY variable holding it)")
    _add_remote(parser)
    sub = Subcommands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
                      only)
    _spec_commands(sub)
    _ops_commands(sub)
    if only is not None and only not in sub.action.choices:
        return build_parser()  # not a command: the whole parser says so, listing them
    return parser


def parse_words(parser: argparse.ArgumentParser, words: Sequence[str]) -> argparse.Namespace:
    """argparse gives a `*` positional only the words before the first option; `images
    build -t REF CONTEXT` puts its CONTEXT after them, so leftovers join `refs` there."""
    args, extra = parser.parse_known_args(words)
    if extra and getattr(args, "command", None) == "images" and not any(
        word.startswith("-") for word in extra
    ):
        args.refs = [*args.refs, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None, *, driver: FullDriver | None = None) -> int:
    """Run one command. `driver` injects a driver (tests); otherwise --driver picks one."""
    words = sys.argv[1:] if argv is None else argv
    args = parse_words(build_parser(command_of(words)), words)
    configure_logging(args.log_format, args.verbose)
    if args.age_key_file is not None:  # spec/secrets.py reads it at each load (the loop too)
        import os

        os.environ["RECONCILE_AGE_KEY_FILE"] = str(args.age_key_file.absolute())
        os.environ.pop("RECONCILE_AGE_KEY", None)  # the option given wins over the variable
    ctx = Context(args=args, injected_driver=driver, words=tuple(words))
    try:
        return _dispatch(ctx)
    except SpecError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        print(f"{len(err.problems)} problem(s) found; nothing was changed.", file=sys.stderr)
        return err.exit_code
    except ReconcileError as err:
        logger().error(str(err), error=type(err).__name__)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        return _report_bug(exc, args.verbose)


def _dispatch(ctx: Context) -> int:
    args = ctx.args
    if args.command == "version":  # not the command modules (~0.15 s) for one line
        import platform

        from reconciler import __version__

        ctx.out(f"reconcile {__version__} (python {platform.python_version()})")
        return 0
    if args.command == "images" and args.verb == "build":
        # A no-change rebuild must be quick: it needs neither the stack loader nor the engine.
        from reconciler.cli.imagebuild import cmd_build

        return cmd_build(ctx)
    with paused_gc():  # what the modules make lives to the end: frozen, never walked
        from reconciler.cli.commands import dispatch  # late: keeps `--help` fast

        gc.freeze()
    try:
        return dispatch(ctx)
    finally:
        gc.unfreeze()  # a caller's objects are collectable again (main() runs in tests too)


def _report_bug(exc: Exception, verbose: bool) -> int:
    import traceback  # only for a bug: it brings linecache and tokenize

    from reconciler import __version__

    if verbose:
        traceback.print_exc(file=sys.stderr)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    print(f"reconcile: unexpected {type(exc).__name__}{place}. This is a bug in reconcile "
          f"{__version__}; please report it with the command you ran"
          f"{'' if verbose else ' and its output with -v (the traceback)'}.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
