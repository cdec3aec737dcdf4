"""Health-gated deploys and rollbacks of `reconcile sync` (real git repositories, the
in-memory driver): a never-healthy revision is rolled back and not retried until a new
commit; a failed apply puts the last good revision back; `reconcile rollback` to a named
revision restores its stack file and its image digests, though the tag moved."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.model.labels import SOURCE_COMMIT
from tests.fakes import digest_of
from tests.gitrepos import Repo, SyncHost, running, stack_yaml, wait

API = """\
  api:
    image: "registry.local:5000/acme/web:1.4"
    restart: always
    healthcheck: {tcp: {port: 80}, interval: 50ms, timeout: 1s, retries: 1}
"""
TAG = "ref:registry.local:5000/acme/web:1.4"


@pytest.fixture()
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "origin")


def test_a_never_healthy_revision_is_rolled_back_and_not_retried(
        repo: Repo, tmp_path: Path) -> None:
    good = repo.commit({"shop.yaml": stack_yaml("1")}, "good")
    # --prune: the container the bad revision added goes with it (else: an orphan, kept)
    with SyncHost(tmp_path, str(repo.path), health_deadline=0.5, prune=True,
                  resync=0.2) as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        host.driver.unhealthy.add("shop-api")
        bad = repo.commit({"shop.yaml": stack_yaml("2", API)}, "add an api that never works")
        host.fetch()
        wait(lambda: (host.stack("shop").get("failing") or {}).get("commit") == bad)
        wait(lambda: "shop-api" not in host.driver.containers
             and host.env("shop-web") == {"VERSION": "1"}, what="the good revision back")
        wait(lambda: host.stack("shop").get("pending") is None)
        assert host.stack("shop")["commit"] == good and host.stack("shop")["held"]
        assert host.stack("shop")["failing"]["result"] == "rolled-back"
        results = [(e["commit"], e["result"]) for e in host.history("shop")]
        assert results == [(good, "ok"), (bad, "rolled-back"), (good, "ok")]
        [event] = host.events("loop-sync-rolled-back")
        assert event["to"] == good and bad[:12] in event["reason"]
        host.fetch()  # the same head again, and resyncs: the bad commit is not retried
        wait(lambda: host.sync.fetcher.fetches >= 2)
        time.sleep(1.0)
        assert host.driver.calls.count(("create", "shop-api")) == 1
        assert host.stack("shop")["commit"] == good
        fixed = repo.commit({"shop.yaml": stack_yaml("3")}, "drop the api")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == fixed)
        assert host.env("shop-web") == {"VERSION": "3"} and not host.stack("shop")["held"]


def test_a_failed_apply_puts_the_last_good_revision_back(repo: Repo, tmp_path: Path) -> None:
    good = repo.commit({"shop.yaml": stack_yaml("1")}, "good")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        host.driver.fail_on.add(("create", "shop-api"))
        bad = repo.commit({"shop.yaml": stack_yaml("2", API)}, "api fails to create")
        host.fetch()
        wait(lambda: (host.stack("shop").get("failing") or {}).get("result") == "failed")
        assert host.stack("shop")["failing"]["commit"] == bad
        wait(lambda: host.env("shop-web") == {"VERSION": "1"} and running(host, "shop-web"))
        assert "action of its apply failed" in host.stack("shop")["failing"]["reason"]


def test_rollback_to_a_named_revision_restores_its_image_digests(
        repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == first)
        old = host.driver.containers["shop-web"].image_digest
        assert old == digest_of(TAG)
        host.driver.images[TAG] = moved = digest_of("the tag moved")
        second = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == second)
        assert host.driver.containers["shop-web"].image_digest == moved
        assert host.driver.containers["shop-web"].labels[SOURCE_COMMIT] == second
        assert host.history("shop")[-1]["images"] == {TAG: moved}

        done: list[int] = []
        cli = threading.Thread(target=lambda: done.append(main(
            ["--state-dir", str(host.state), "rollback", "shop", first[:8]], driver=host.driver)))
        cli.start()
        cli.join(timeout=30)
        assert done == [0]
        assert f"rolled back shop to {first[:12]}" in capsys.readouterr().out
        seen = host.driver.containers["shop-web"]
        assert seen.image_digest == old  # pinned: the moved tag is not what runs
        assert seen.labels[SOURCE_COMMIT] == first  # made from the revision put back
        assert seen.recorded_spec and seen.recorded_spec["image"] == f"{TAG}@{old}"
        assert host.env("shop-web") == {"VERSION": "1"}
        assert host.driver.images[TAG] == moved
        last = host.history("shop")[-1]
        assert (last["commit"], last["result"], last["action"]) == (first, "ok", "rollback")

        assert main(["--state-dir", str(host.state), "history", "shop", "-o", "json"],
                    driver=host.driver) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["commit"] for r in rows] == [first, second, first]
        assert main(["--state-dir", str(host.state), "history", "shop"], driver=host.driver) == 0
        text = capsys.readouterr().out.splitlines()
        assert text[1].startswith(f"* {first[:12]}") and "rollback" in text[1]
        assert [line[0] for line in text[1:]] == ["*", " ", " "]  # one entry is in force


def test_rollback_without_a_revision_goes_to_the_previous_good_one(
        repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == first)
        second = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == second)
        assert main(["--state-dir", str(host.state), "rollback", "shop"],
                    driver=host.driver) == 0
        assert host.env("shop-web") == {"VERSION": "1"} and host.stack("shop")["held"]
        capsys.readouterr()
        assert main(["--state-dir", str(host.state), "rollback", "shop", "0000000"],
                    driver=host.driver) == 1
        assert "no revision matching '0000000'" in capsys.readouterr().err


def test_history_of_an_unknown_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "history", "nope"]) == 1
    assert "no applied revisions of stack 'nope'" in capsys.readouterr().out


def test_a_restarted_sync_keeps_the_rollback_and_applies_queued_requests(
        repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == first)
        second = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == second)
    driver = host.driver
    # No loop runs: the request is queued, and the next `sync` applies it.
    assert main(["--state-dir", str(host.state), "rollback", "shop", first], driver=driver) == 0
    assert "queued" in capsys.readouterr().out
    with SyncHost(tmp_path, str(repo.path), driver=driver) as again:
        wait(lambda: again.stack("shop").get("commit") == first and again.stack("shop")["held"])
        assert again.env("shop-web") == {"VERSION": "1"}
    creates = driver.calls.count(("create", "shop-web"))
    with SyncHost(tmp_path, str(repo.path), driver=driver) as third:  # the hold survives
        wait(lambda: third.sync.fetcher.fetches >= 1 and third.stack("shop").get("held"))
        time.sleep(0.3)
        assert third.env("shop-web") == {"VERSION": "1"}
        assert driver.calls.count(("create", "shop-web")) == creates  # adopted, not redone


@pytest.mark.parametrize(("argv", "message"), [
    (["--webhook", "127.0.0.1:9000"], "--webhook needs --webhook-secret-file"),
    (["--webhook", "nowhere"], "expected HOST:PORT"),
    (["--path", "../etc"], "a folder inside the repository is expected"),
    (["--verify-signatures"], "--verify-signatures needs --keyring DIR"),
])
def test_sync_refuses_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  argv: list[str], message: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x\n")
    if argv[0] == "--webhook" and argv[1] == "nowhere":
        argv = [*argv, "--webhook-secret-file", str(secret)]
    code = main(["--state-dir", str(tmp_path), "sync", "--repo", str(tmp_path), *argv])
    assert code == 1
    assert message in capsys.readouterr().err
