"""The server end to end on a real socket, over a real Loop (with the in-memory driver of
tests/fakes.py): routes, token and CSRF refusals, the body bound, SSE resume, and the
OpenAPI document naming every route."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.client import ApiClient
from reconciler.api.server import ApiServer, ServeConfig
from reconciler.api.v1 import openapi
from reconciler.api.view import LoopView
from reconciler.loop.control import Loop
from reconciler.model.errors import ReconcileError
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver
from tests.unit.loop.test_loop_contract import STACK

TOKEN = "s3cr3t-token-0123456789"


@dataclass
class Served:
    server: ApiServer
    socket: Path
    port: int
    driver: InMemoryDriver

    def unix(self) -> ApiClient:
        return ApiClient(f"unix://{self.socket}")

    def tcp(self, method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _wait(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {check}")


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    configure_logging()
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "shop.yaml").write_text(STACK.format(restart="always"))
    driver = InMemoryDriver()
    loop = Loop(driver, tmp_path / "state", [stacks], resync=3600)
    view = LoopView.of(loop, driver)
    sock = tmp_path / "api.sock"
    server = ApiServer(view, config=ServeConfig(unix_socket=sock, listen=("127.0.0.1", 0),
                                                token=TOKEN))
    server.start()
    thread = threading.Thread(target=loop.run)
    thread.start()
    address = server.tcp_address
    assert address is not None
    try:
        _wait(lambda: view.published is not None and len(view.containers(usage=False)) == 2)
        yield Served(server, sock, address[1], driver)
    finally:
        loop.stop()
        thread.join(10)
        server.close()
    assert not sock.exists()


def test_the_socket_is_0660_and_serves_the_v1_reads(served: Served) -> None:
    assert stat.S_IMODE(os.stat(served.socket).st_mode) == 0o660
    client = served.unix()
    stacks = client.call("GET", "/v1/stacks")
    assert [(s["name"], s["result"]) for s in stacks] == [("shop", "applied")]
    assert stacks[0]["source"].endswith("shop.yaml") and stacks[0]["revision"]
    rows = {r["name"]: r for r in client.call("GET", "/v1/containers")}
    assert set(rows) == {"shop-api", "shop-web"}
    assert rows["shop-web"]["state"] == "running" and rows["shop-web"]["policy"] == "always"
    assert client.call("GET", "/v1/containers/shop-web")["name"] == "shop-web"
    with pytest.raises(ReconcileError, match="no such container"):
        client.call("GET", "/v1/containers/shop-nope")
    plan = client.call("GET", "/v1/plan")
    assert plan["ready"] and plan["summary"]["actions"] == 0 and "No changes" in plan["text"]
    assert client.call("GET", "/v1/status")["stacks"][0]["stack"] == "shop"


def test_an_action_goes_through_the_loop_and_is_seen_at_once(served: Served) -> None:
    client = served.unix()
    done = client.call("POST", "/v1/containers/shop-web/stop")
    assert done == {"name": "shop-web", "action": "stop", "done": True, "loop_saw_it": True}
    assert client.call("GET", "/v1/containers/shop-web")["state"] == "user-stopped"
    client.call("POST", "/v1/containers/shop-web/start")
    assert client.call("GET", "/v1/containers/shop-web")["state"] == "running"
    result = client.call("POST", "/v1/apply", {"wait": 10})
    assert result["converged"] and result["ok"]


def test_tcp_without_the_right_token_is_401_and_nothing_more(served: Served) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {TOKEN}"}):
        for path in ("/v1/stacks", "/v1/containers", "/v1/nope", "/v1/events"):
            status, body = served.tcp("GET", path, headers)
            assert status == 401, (path, headers)
            assert b"shop" not in body and body == b'{"error": "unauthorized"}\n'
    status, body = served.tcp("GET", "/v1/stacks", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body)[0]["name"] == "shop"


def test_a_browser_may_send_the_token_as_a_cookie_but_must_send_its_origin(
        served: Served) -> None:
    status, body = served.tcp("GET", "/v1/stacks", {"Cookie": f"a=b; reconcile_token={TOKEN}"})
    assert status == 200 and json.loads(body)[0]["name"] == "shop"
    status, _ = served.tcp("GET", "/v1/stacks", {"Cookie": "reconcile_token=wrong"})
    assert status == 401
    cookie = {"Cookie": f"reconcile_token={TOKEN}"}
    status, _ = served.tcp("POST", "/v1/apply", cookie, b"{}")
    assert status == 403
    status, _ = served.tcp("POST", "/v1/apply", {**cookie, "Origin": f"http://localhost:"
                                                 f"{served.port}"}, b"{}")
    assert status == 200


def test_a_post_with_a_foreign_host_or_origin_is_refused(served: Served) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = served.driver.calls.count(("stop", "shop-web"))
    for extra in ({"Host": "evil.example:80"}, {"Origin": "http://evil.example"},
                  {"Origin": "null"}):
        status, body = served.tcp("POST", "/v1/containers/shop-web/stop", {**auth, **extra})
        assert status == 403 and b"refused" in body, extra
    assert served.driver.calls.count(("stop", "shop-web")) == before  # nothing happened
    status, _ = served.tcp("POST", "/v1/apply", {**auth, "Origin": f"http://127.0.0.1:"
                                                 f"{served.port}"}, b"{}")
    assert status == 200


def test_an_oversized_body_is_refused_unread(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(b"POST /v1/apply HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
                  % (served.port, TOKEN.encode(), 2 << 20))
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def _sse_ids(client: ApiClient, path: str, count: int) -> list[int]:
    ids = []
    for line in client.lines(path):
        if line.startswith(b"id: "):
            ids.append(int(line[4:]))
            if len(ids) == count:
                return ids
    return ids


def test_events_resume_after_the_last_event_id(served: Served) -> None:
    client = served.unix()
    kept = client.call("GET", "/v1/events?follow=0")
    assert len(kept) >= 3 and [e["id"] for e in kept] == sorted(e["id"] for e in kept)
    assert _sse_ids(client, f"/v1/events?since={kept[0]['id']}", 2) == \
        [kept[1]["id"], kept[2]["id"]]
    # Last-Event-ID, as EventSource sends it on reconnecting
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {TOKEN}",
                                               "Last-Event-ID": str(kept[-2]["id"])})
    response = conn.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    while not (line := response.readline()).startswith(b"id: "):
        pass
    assert int(line[4:]) == kept[-1]["id"]
    conn.close()


def test_every_route_is_in_the_openapi_document(served: Served) -> None:
    documented = {(method.upper(), path) for path, item in openapi()["paths"].items()
                  for method in item}
    served_routes = {(r.method, r.pattern) for r in served.server.router.routes}
    assert served_routes <= documented, served_routes - documented
    assert served.unix().call("GET", "/v1/openapi.json")["openapi"].startswith("3.")


def test_the_plan_shows_a_pending_change_field_by_field_with_secrets_masked(
        served: Served) -> None:
    from reconciler.model.records import replace

    seen = served.driver.containers["shop-web"]
    recorded = dict(seen.recorded_spec or {})
    recorded["env"] = {**recorded.get("env", {}), "DB_PASSWORD": "hunter2-old"}
    # behind the loop's back, no wake: the loop has not planned it; the API's plan does
    served.driver.containers["shop-web"] = replace(seen, config_hash="0" * 12,
                                                   recorded_spec=recorded)
    status, body = served.tcp("GET", "/v1/plan", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and b"hunter2" not in body
    plan = json.loads(body)
    [action] = [a for a in plan["actions"] if a["target"] == "shop-web"]
    assert action["kind"] == "replace"
    [change] = [c for c in action["changes"] if "DB_PASSWORD" in c["path"]]
    assert change["new"] is None and change["old"] not in (None, "hunter2-old")
    assert "shop-web" in plan["text"]


def test_connections_beyond_the_bound_are_closed_at_accept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.api import server as server_module

    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 2)
    view = LoopView(InMemoryDriver(), tmp_path / "state")
    sock = tmp_path / "api.sock"
    with ApiServer(view, config=ServeConfig(unix_socket=sock)):
        held = [socket.socket(socket.AF_UNIX) for _ in range(2)]
        for s in held:
            s.connect(str(sock))  # idle: each holds its thread
        time.sleep(0.2)
        with socket.socket(socket.AF_UNIX) as third:
            third.connect(str(sock))
            third.settimeout(5)
            try:
                third.sendall(b"GET /v1/version HTTP/1.1\r\nHost: localhost\r\n\r\n")
                answer = third.recv(100)
            except (ConnectionResetError, BrokenPipeError):  # closed before or after we wrote
                answer = b""
            assert answer == b""  # closed unanswered
        for s in held:
            s.close()

        def room_again() -> bool:  # once their threads have ended
            try:
                return bool(ApiClient(f"unix://{sock}").call("GET", "/v1/version"))
            except ReconcileError:
                return False

        _wait(room_again)
