"""Writing plans to a terminal or a pipe."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from reconciler.model.actions import Plan
from reconciler.planner.render import render_text


def wants_color(stream: TextIO) -> bool:
    """Colour for terminals only, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def print_plan(plan: Plan, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    out.write(render_text(plan, color=wants_color(out)) + "\n")
