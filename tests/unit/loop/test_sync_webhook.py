"""The push webhook of `reconcile sync` on 127.0.0.1: GitHub-, Gitea- and GitLab-style
signatures; a wrong one is refused (401) and fetches nothing; a right one fetches at once;
a flood of 1,000 pushes leads to a bounded number of fetches."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.loop.fetcher import MIN_GAP
from reconciler.loop.webhook import MAX_BODY, signed
from tests.gitrepos import Repo, SyncHost, stack_yaml, wait

SECRET = b"s3cret webhook key"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()


def github(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={mac}"}


def gitea(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"X-Gitea-Event": "push",
            "X-Gitea-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}


def gitlab(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret.decode()}


def post(address: tuple[str, int], body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("POST", "/hooks/reconcile", body=body,
                     headers={"Content-Type": "application/json", **headers})
        return conn.getresponse().status
    finally:
        conn.close()


def test_signatures_of_each_forge() -> None:
    for style in (github, gitea, gitlab):
        assert signed(style(PUSH), PUSH, SECRET), style.__name__
        assert not signed(style(PUSH, b"another secret"), PUSH, SECRET), style.__name__
    assert not signed(github(PUSH), PUSH + b" ", SECRET)  # the body is what is signed
    assert not signed(gitea(b"{}"), PUSH, SECRET)
    assert not signed({}, PUSH, SECRET)


@pytest.fixture()
def hooked(tmp_path: Path) -> Iterator[tuple[SyncHost, Repo, tuple[str, int]]]:
    repo = Repo(tmp_path / "origin")
    first = repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    with SyncHost(tmp_path, str(repo.path), webhook=("127.0.0.1", 0),
                  webhook_secret=SECRET) as host:
        wait(lambda: host.sync.webhook is not None and host.head() == first)
        assert host.sync.webhook is not None
        yield host, repo, host.sync.webhook.address


def test_a_wrong_signature_is_refused_and_fetches_nothing(
        hooked: tuple[SyncHost, Repo, tuple[str, int]]) -> None:
    host, repo, address = hooked
    before = host.sync.fetcher.fetches
    new = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
    assert post(address, PUSH, github(PUSH, b"wrong")) == 401
    assert post(address, PUSH, gitea(PUSH, b"wrong")) == 401
    assert post(address, PUSH, gitlab(PUSH, b"wrong")) == 401
    assert post(address, PUSH, {"X-GitHub-Event": "push"}) == 401  # unsigned
    time.sleep(MIN_GAP + 0.3)
    assert host.sync.fetcher.fetches == before and host.head() != new
    assert len(host.events("loop-sync-webhook-refused")) == 4


@pytest.mark.parametrize("style", [github, gitea, gitlab])
def test_a_signed_push_triggers_a_sync_at_once(
        hooked: tuple[SyncHost, Repo, tuple[str, int]], style: object) -> None:
    host, repo, address = hooked
    new = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
    assert callable(style)
    assert post(address, PUSH, style(PUSH)) == 202
    wait(lambda: host.stack("shop").get("commit") == new, timeout=MIN_GAP + 5)
    assert host.env("shop-web") == {"VERSION": "2"}


def test_pushes_of_other_refs_pings_and_big_bodies_fetch_nothing(
        hooked: tuple[SyncHost, Repo, tuple[str, int]]) -> None:
    host, _, address = hooked
    before = host.sync.fetcher.fetches
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    assert post(address, other, github(other)) == 202
    assert post(address, b"{}", {**github(b"{}"), "X-GitHub-Event": "ping"}) == 200
    with socket.create_connection(address, timeout=10) as sock:  # refused before the body
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
                     b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        assert sock.recv(64).startswith(b"HTTP/1.0 413 ")
    time.sleep(MIN_GAP + 0.3)
    assert host.sync.fetcher.fetches == before


def test_a_flood_of_pushes_leads_to_a_bounded_number_of_fetches(
        hooked: tuple[SyncHost, Repo, tuple[str, int]]) -> None:
    host, repo, address = hooked
    new = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
    before = host.sync.fetcher.fetches
    statuses: list[int] = []

    def flood() -> None:
        for _ in range(250):
            statuses.append(post(address, PUSH, github(PUSH)))

    began = time.monotonic()
    senders = [threading.Thread(target=flood) for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    elapsed = time.monotonic() - began
    assert statuses == [202] * 1000
    wait(lambda: host.stack("shop").get("commit") == new, timeout=MIN_GAP + 5)
    time.sleep(MIN_GAP + 0.3)  # the one pending fetch, if any, has run
    fetched = host.sync.fetcher.fetches - before
    assert 1 <= fetched <= elapsed / MIN_GAP + 2, (fetched, elapsed)


def test_a_flood_of_bad_signatures_is_not_logged_whole(
        hooked: tuple[SyncHost, Repo, tuple[str, int]]) -> None:
    host, _, address = hooked
    before = host.sync.fetcher.fetches
    for _ in range(200):
        assert post(address, PUSH, github(PUSH, b"wrong")) == 401
    assert len(host.events("loop-sync-webhook-refused")) == 10  # per minute
    assert host.sync.fetcher.fetches == before
