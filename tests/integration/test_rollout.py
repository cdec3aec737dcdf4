"""`update: {order: start-first}` on the real kernel: a never-healthy new version leaves
the old one running (same pid) and apply exits 1 naming the health failure; a healthy new
version replaces the old with an overlap (new started before the old is removed)."""

from __future__ import annotations

import pytest

from tests.integration.loop_helpers import HEADER, LoopHost, loop_host

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

WEB = """\
  web:
    image: bb
    command: ["sh", "-c", "{prepare}exec sleep 3600"]
    stop_signal: SIGKILL
    env: {{VERSION: "{version}"}}
    healthcheck: {{exec: ["test", "-f", "/tmp/ok"], interval: 200ms, timeout: 2s, retries: 3}}
    update: {{order: start-first}}
"""


def _write(host: LoopHost, name: str, version: int, healthy: bool) -> str:
    body = WEB.format(prepare="touch /tmp/ok; " if healthy else "", version=version)
    return str(host.write("r.yaml", HEADER.format(name=name, image=host.image) + body, name))


def test_start_first_keeps_the_old_one_unless_the_new_one_is_healthy(
        loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}r"
    web, nxt = f"{name}-web", f"{name}-web.next"
    host.cli("apply", _write(host, name, 1, healthy=True))
    old_pid = host.ps(name)[web]["pid"]
    # A new version that never becomes healthy: refused, the old one keeps running.
    done = host.cli("apply", _write(host, name, 2, healthy=False), check=False)
    assert done.returncode == 1
    assert f"{web}.next: new version is unhealthy" in done.stderr
    rows = host.ps(name)
    assert set(rows) == {web} and rows[web]["pid"] == old_pid
    assert rows[web]["state"] == "running"
    # A healthy new version: started under .next before the old one is removed.
    mark = len(host.events())
    host.cli("apply", _write(host, name, 3, healthy=True))
    order = [(e["type"], e["name"]) for e in host.events()[mark:]
             if e["type"] in ("created", "started", "removed")
             and e["name"] in (web, nxt)]
    assert order.index(("started", nxt)) < order.index(("removed", web))
    assert order.index(("removed", web)) < order.index(("started", web))
    assert order[-1] == ("removed", nxt)
    rows = host.ps(name)
    assert set(rows) == {web} and rows[web]["pid"] != old_pid
    assert rows[web]["state"] == "running"
    assert "No changes" in host.cli("apply", _write(host, name, 3, healthy=True)).stdout
