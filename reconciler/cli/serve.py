"""`reconcile run`'s API: where it listens, with which token, wired to the loop."""

from __future__ import annotations

from typing import Any

from reconciler.cli.context import Context, make_driver
from reconciler.cli.remote import default_socket
from reconciler.model.errors import ReconcileError

MAX_SOCKET_PATH = 107  # sun_path, less its terminating NUL


def run_serving(ctx: Context, loop: Any) -> int:
    """`loop.run()` with its API served meanwhile (`run` and `sync`)."""
    server = make_api(ctx, loop)
    if server is not None:  # bound once the loop holds the lock: a second loop meets that
        loop.on_locked.append(server.start)
    try:
        code: int = loop.run()
        return code
    finally:
        if server is not None:
            server.close()


def make_api(ctx: Context, loop: Any) -> Any:
    """The ApiServer of `loop` (checked, not yet bound), or None with --no-api."""
    args = ctx.args
    if args.no_api:
        return None
    from reconciler.api.auth import read_token
    from reconciler.api.server import ApiServer, ServeConfig, parse_listen
    from reconciler.api.view import LoopView

    socket = args.api_socket or default_socket(ctx.state_dir)
    if len(str(socket.absolute())) > MAX_SOCKET_PATH:
        raise ReconcileError(f"{socket}: too long for a unix socket; choose a shorter "
                             "--api-socket PATH")
    listen = parse_listen(args.listen) if args.listen else None
    token = read_token(args.token_file) if listen and args.token_file else None
    config = ServeConfig(unix_socket=socket.absolute(), socket_group=args.api_group,
                         listen=listen, tls_cert=args.tls_cert, tls_key=args.tls_key,
                         token=token)
    # The API's own driver: its threads never share the loop's (as a CLI process would not).
    ops = ctx.injected_driver or make_driver(args.driver, ctx.state_dir,
                                             ctx.registry_options())
    return ApiServer(LoopView.of(loop, ops), config=config)
