"""`reconcile convert`: print the stack file equivalent to Compose files (docs/compose.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.cli.context import Context
from reconciler.model.errors import ReconcileError


def cmd_convert(ctx: Context) -> int:
    from reconciler.spec.compose.entry import ComposeRequest
    from reconciler.spec.convert import convert

    request = ctx.compose or ComposeRequest()
    files = [Path(p) for p in ctx.args.paths] + list(request.files)
    if not files:
        raise ReconcileError("convert needs a Compose file (compose.yaml or -f FILE)")
    for file in files:
        if not file.is_file():
            raise ReconcileError(f"{file}: no such file")
    text, warnings = convert(files, request)
    for warning in warnings:  # on stderr, like validate: stdout is the stack file
        print(warning, file=sys.stderr)
    ctx.out(text)
    return 0
