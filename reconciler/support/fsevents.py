"""What the watchdog file-system events of the loop and of the native driver share."""

from __future__ import annotations

import os

from watchdog.events import FileSystemEvent


def event_paths(event: FileSystemEvent) -> list[str]:
    """The event's path, and for a move its destination too (editors rename into place)."""
    paths = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.append(os.fsdecode(dest))
    return paths
