"""The loop's HTTP API against a real `reconcile run` (native driver, busybox containers):
the unix socket and each endpoint, SSE resume, log follow, actions, the CLI through the
API while the loop holds the lock, and loopback TCP with TLS and tokens (docs/api.md)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.api_helpers import UnixHTTP, free_port, https, make_certs, request
from tests.integration.loop_helpers import HEADER, SLEEPER, LoopHost, loop_host, wait_until

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

TALKER = """\
  talk:
    image: bb
    command: ["sh", "-c", "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done"]
    stop_signal: SIGKILL
    restart: always
    env: {API_PASSWORD: hunter2-secret}
"""


def _stack(host: LoopHost, name: str) -> str:
    body = SLEEPER.format(key="idle", restart="always", version="1") + TALKER
    return HEADER.format(name=name, image=host.image) + body


def _up(host: LoopHost, name: str) -> Path:
    host.write(f"{name}.yaml", _stack(host, name), name)
    sock = host.state / "api.sock"
    wait_until(lambda: sock.exists(), what="the API socket")
    wait_until(lambda: _get(sock, "/v1/stacks") and all(
        c["state"] == "running" for c in _get(sock, "/v1/containers"))
        and len(_get(sock, "/v1/containers")) == 2, timeout=60, what="two running")
    return sock


def _get(sock: Path, path: str) -> object:
    status, body = request(UnixHTTP(sock), "GET", path)
    assert status == 200, (path, status, body)
    return json.loads(body)


def test_the_unix_socket_api(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}api"
    host.start()
    sock = _up(host, name)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    stacks = _get(sock, "/v1/stacks")
    assert isinstance(stacks, list) and stacks[0]["name"] == name
    assert stacks[0]["result"] == "applied" and stacks[0]["source"].endswith(f"{name}.yaml")
    rows = {r["name"]: r for r in _get(sock, "/v1/containers")}  # type: ignore[union-attr]
    talk = rows[f"{name}-talk"]
    assert talk["usage"]["pids"] >= 1 and talk["usage"]["memory_usage"] > 0
    assert talk["policy"] == "always" and talk["pid"] and talk["addresses"]
    plan = _get(sock, "/v1/plan")
    assert isinstance(plan, dict) and plan["summary"]["actions"] == 0
    # An edit the loop cannot apply yet is not needed: the plan shows a pending change's
    # reasons when the host drifts; here a replaced env shows up masked.
    raw = json.dumps(_get(sock, "/v1/status")) + json.dumps(plan) + json.dumps(rows)
    assert "hunter2" not in raw
    stats = _get(sock, f"/v1/containers/{name}-talk/stats?stream=0")
    assert isinstance(stats, dict) and stats["pids"] >= 1
    # logs, then a follow that sees new lines
    conn = UnixHTTP(sock)
    conn.request("GET", f"/v1/containers/{name}-talk/logs?tail=2")
    lines = [json.loads(x) for x in conn.getresponse().read().splitlines()]
    assert len(lines) == 2 and all(x["text"].startswith("line") for x in lines)
    conn = UnixHTTP(sock)
    conn.request("GET", f"/v1/containers/{name}-talk/logs?follow=1&tail=0&format=text")
    response = conn.getresponse()
    seen = [response.readline() for _ in range(3)]
    conn.close()
    assert all(x.startswith(b"line") for x in seen), seen
    numbers = [int(x[4:]) for x in seen]
    assert numbers == sorted(numbers) and numbers[0] > int(lines[-1]["text"][4:]) - 1
    # SSE resume: the events after a Last-Event-ID, in order, no gap
    kept = _get(sock, "/v1/events?follow=0")
    assert isinstance(kept, list) and len(kept) >= 4
    conn = UnixHTTP(sock)
    conn.request("GET", "/v1/events", headers={"Last-Event-ID": str(kept[1]["id"])})
    response = conn.getresponse()
    ids = []
    while len(ids) < 2:
        line = response.readline()
        if line.startswith(b"id: "):
            ids.append(int(line[4:]))
    conn.close()
    assert ids == [kept[2]["id"], kept[3]["id"]]
    # an action: stop through the API, and the loop leaves it stopped
    status, body = request(UnixHTTP(sock), "POST", f"/v1/containers/{name}-idle/stop")
    assert status == 200 and json.loads(body)["loop_saw_it"]
    time.sleep(1.0)
    idle = _get(sock, f"/v1/containers/{name}-idle")
    assert isinstance(idle, dict) and idle["state"] == "user-stopped"
    # an oversized body and a foreign Origin are refused, and change nothing
    with socket.socket(socket.AF_UNIX) as raw:  # refused on its headers, the body unread
        raw.connect(str(sock))
        raw.sendall(b"POST /v1/apply HTTP/1.1\r\nHost: localhost\r\n"
                    b"Content-Length: %d\r\n\r\n" % (2 << 20) + b"{" * 65536)
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    status, _ = request(UnixHTTP(sock), "POST", f"/v1/containers/{name}-idle/start",
                        headers={"Origin": "http://evil.example"})
    assert status == 403
    assert host.ps(name)[f"{name}-idle"]["state"] == "user-stopped"


def test_the_cli_goes_through_the_api_while_the_loop_holds_the_lock(loop_host: LoopHost
                                                                    ) -> None:
    host = loop_host
    name = f"{host.prefix}cli"
    host.start()
    sock = _up(host, name)
    # apply of the watched folder: converged by the loop, not refused for the lock
    done = host.cli("apply", str(host.stacks))
    assert "by the running loop" in done.stdout
    refused = host.cli("apply", str(host.root / "elsewhere.yaml"), check=False)
    assert refused.returncode == 1 and "not among the files" in refused.stderr
    # --host with an empty state dir of its own: only the API can know these containers
    other = ["--state-dir", str(host.root / "empty"), "--host", f"unix://{sock}"]
    rows = {r["name"]: r for r in json.loads(host.cli(*other, "ps", "-o", "json").stdout)}
    assert set(rows) == {f"{name}-idle", f"{name}-talk"}
    assert host.cli(*other, "stop", f"{name}/idle").stdout.strip() == f"stop: {name}-idle"
    wait_until(lambda: host.ps(name)[f"{name}-idle"]["state"] == "user-stopped",
               what="stopped through the API")
    time.sleep(1.0)  # the loop does not undo it
    assert host.ps(name)[f"{name}-idle"]["state"] == "user-stopped"
    host.cli("start", f"{name}-idle")  # the state dir's own socket this time
    wait_until(lambda: host.ps(name)[f"{name}-idle"]["state"] == "running", what="started")
    pid = host.ps(name)[f"{name}-idle"]["pid"]
    host.cli("restart", f"{name}-idle")
    after = host.ps(name)[f"{name}-idle"]
    assert after["state"] == "running" and after["pid"] != pid
    logs = host.cli(*other, "logs", "--tail", "3", f"{name}-talk").stdout.splitlines()
    assert len(logs) == 3 and all(x.startswith("line") for x in logs)
    every = host.cli(*other, "logs", f"{name}-talk").stdout.splitlines()
    recent = host.cli(*other, "logs", "--since", "1s", f"{name}-talk").stdout.splitlines()
    assert 0 < len(recent) < len(every) and recent[-1].startswith("line")
    follow = subprocess.Popen([*host_cli(host), *other, "logs", "-f", "--tail", "0",
                               f"{name}-talk"], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        got = [follow.stdout.readline() for _ in range(2)]
    finally:
        follow.kill()
        follow.wait()
    assert all(x.startswith("line") for x in got), got


def host_cli(host: LoopHost) -> list[str]:
    from tests.integration.loop_helpers import RECONCILE

    return [*RECONCILE, "--state-dir", str(host.state)]


def test_loopback_tcp_with_tls_and_tokens(loop_host: LoopHost) -> None:
    host = loop_host
    name = f"{host.prefix}tls"
    ca, cert, key = make_certs(host.root)
    token = host.root / "token"
    token.write_text("t0k3n-" + "9" * 30 + "\n")
    token.chmod(0o600)
    port = free_port()
    # refused before anything happens: no token, a non-loopback address without TLS
    nope = host.cli("run", "--watch", str(host.stacks), "--listen", f"127.0.0.1:{port}",
                    check=False)
    assert nope.returncode == 1 and "needs --token-file" in nope.stderr
    nope = host.cli("--token-file", str(token), "run", "--watch", str(host.stacks),
                    "--listen", f"0.0.0.0:{port}", check=False)
    assert nope.returncode == 1 and "needs TLS" in nope.stderr
    host.start("--token-file", str(token), "--listen", f"127.0.0.1:{port}",
               "--tls-cert", str(cert), "--tls-key", str(key))
    _up(host, name)
    auth = {"Authorization": f"Bearer {token.read_text().strip()}"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-000000000000000"}):
        status, body = request(https(port, ca), "GET", "/v1/stacks", headers)
        assert status == 401 and name.encode() not in body
    status, body = request(https(port, ca), "GET", "/v1/stacks", auth)
    assert status == 200 and json.loads(body)[0]["name"] == name
    status, _ = request(https(port, ca), "POST", f"/v1/containers/{name}-idle/stop",
                        {**auth, "Host": "evil.example"})
    assert status == 403
    status, _ = request(https(port, ca), "POST", f"/v1/containers/{name}-idle/stop",
                        {**auth, "Origin": "https://evil.example"})
    assert status == 403
    assert host.ps(name)[f"{name}-idle"]["state"] == "running"
    remote = ["--state-dir", str(host.root / "empty"), "--host", f"https://127.0.0.1:{port}",
              "--tls-ca", str(ca), "--token-file", str(token)]
    rows = json.loads(host.cli(*remote, "ps", "-o", "json").stdout)
    assert sorted(r["name"] for r in rows) == [f"{name}-idle", f"{name}-talk"]
    bad = host.cli("--state-dir", str(host.root / "empty"), "--host",
                   f"https://127.0.0.1:{port}", "--tls-ca", str(ca), "ps", check=False)
    assert bad.returncode == 1 and "unauthorized" in bad.stderr and name not in bad.stderr
