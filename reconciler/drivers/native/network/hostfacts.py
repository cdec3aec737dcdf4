"""What networking changed on the host, for `reconcile info` (read from the kernel)."""

from __future__ import annotations

from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "?"


def host_changes(state_dir: Path) -> str:
    """The host-wide facts our networking relies on, and which of them we set."""
    notes_path = Path(state_dir) / "network" / "host-changes.txt"
    try:
        notes = sorted(set(notes_path.read_text().split("\n")) - {""})
    except OSError:
        notes = []
    bridges = sorted(p.name for p in Path("/sys/class/net").glob("rcb-*"))
    parts = [
        f"net.ipv4.ip_forward={_read('/proc/sys/net/ipv4/ip_forward')}"
        + (" (set by reconcile: published ports and outbound NAT need it)" if notes else ""),
        f"route_localnet=1 on our bridges only ({', '.join(bridges) or 'none now'})",
        "nft table inet reconcile (one chain per stack and hook)",
    ]
    return "; ".join(parts)
