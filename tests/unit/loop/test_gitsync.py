"""`reconcile sync` end to end with real git repositories in a temporary folder and the
in-memory driver: commits converge, a bad commit keeps the last good revision and is
reported by id, a revert converges back, a force-push is followed, an unreachable
repository keeps what runs and reports the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.model.labels import SOURCE_COMMIT
from tests.gitrepos import Repo, SyncHost, running, stack_yaml, wait


@pytest.fixture()
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "origin")


def test_a_commit_adding_a_stack_converges(repo: Repo, tmp_path: Path) -> None:
    first = repo.commit({"stacks/README.md": "stacks live here\n"}, "empty")
    with SyncHost(tmp_path, str(repo.path), path="stacks") as host:
        wait(lambda: host.head() == first, what="first fetch")
        assert host.driver.containers == {}
        added = repo.commit({"stacks/shop.yaml": stack_yaml()}, "add shop")
        host.fetch()
        wait(lambda: running(host, "shop-web") and host.stack("shop").get("commit") == added)
        assert host.env("shop-web") == {"VERSION": "1"}
        # provenance: the synced tree is no git work tree, the commit comes from sync
        assert host.driver.containers["shop-web"].labels[SOURCE_COMMIT] == added
        [entry] = host.history("shop")
        assert entry["commit"] == added and entry["result"] == "ok"
        assert entry["author"] == "Test Author <author@example.invalid>"
        assert entry["subject"] == "add shop"


def test_a_bad_commit_keeps_the_last_good_revision_and_reports_that_commit(
        repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = repo.commit({"shop.yaml": stack_yaml()}, "good")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        bad = repo.commit({"shop.yaml": stack_yaml().replace("image:", "imagee:")}, "typo")
        host.fetch()
        wait(lambda: (host.stack("shop").get("failing") or {}).get("commit") == bad)
        failing = host.stack("shop")["failing"]
        assert failing["author"] == "Test Author <author@example.invalid>"
        assert failing["subject"] == "typo" and failing["result"] == "failed"
        assert "imagee" in failing["reason"]
        assert host.stack("shop")["commit"] == good  # still in force
        assert host.driver.calls.count(("create", "shop-web")) == 1 and running(host, "shop-web")
        [event] = host.events("loop-sync-commit-failed")
        assert event["commit"] == bad and event["kept"] == good
        assert main(["--state-dir", str(host.state), "status"], driver=host.driver) == 0
        out = capsys.readouterr().out
        assert f"failing commit {bad[:12]} by Test Author" in out and "'typo'" in out
        assert [e["result"] for e in host.history("shop")] == ["ok", "failed"]


def test_a_revert_converges_back(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: running(host, "shop-web"))
        two = repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == two)
        assert host.env("shop-web") == {"VERSION": "2"}
        repo.git("revert", "--no-edit", "HEAD")
        reverted = repo.git("rev-parse", "HEAD")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == reverted)
        assert host.env("shop-web") == {"VERSION": "1"}
        assert host.driver.calls.count(("create", "shop-web")) == 3


def test_a_force_push_is_followed(repo: Repo, tmp_path: Path) -> None:
    base = repo.commit({"shop.yaml": stack_yaml("1")}, "v1")
    repo.commit({"shop.yaml": stack_yaml("2")}, "v2")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: running(host, "shop-web") and host.env("shop-web") == {"VERSION": "2"})
        repo.git("reset", "-q", "--hard", base)  # history rewritten: v2 is gone
        rewritten = repo.commit({"shop.yaml": stack_yaml("3")}, "v3 instead")
        host.fetch()
        wait(lambda: host.head() == rewritten and host.stack("shop").get("commit") == rewritten)
        assert host.env("shop-web") == {"VERSION": "3"}
        assert host.sync_status()["fetch_error"] == ""


def test_a_file_url_and_a_ref_other_than_main(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"shop.yaml": stack_yaml("main")}, "on main")
    repo.git("checkout", "-q", "-b", "prod")
    prod = repo.commit({"shop.yaml": stack_yaml("prod")}, "on prod")
    with SyncHost(tmp_path, f"file://{repo.path}", ref="prod") as host:
        wait(lambda: host.stack("shop").get("commit") == prod)
        assert host.env("shop-web") == {"VERSION": "prod"}


def test_an_unreachable_repository_keeps_the_last_good_revision_and_reports(
        repo: Repo, tmp_path: Path) -> None:
    good = repo.commit({"shop.yaml": stack_yaml()}, "good")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        moved = repo.path.with_name("gone")
        repo.path.rename(moved)
        host.fetch()
        wait(lambda: host.sync_status().get("fetch_error"))
        assert "fetch" in host.sync_status()["fetch_error"]
        assert running(host, "shop-web") and host.head() == good
        [event] = host.events("loop-sync-fetch-failed")
        assert event["kept"] == good
        moved.rename(repo.path)
        host.fetch()
        wait(lambda: host.sync_status().get("fetch_error") == "")


def test_a_repository_that_never_fetched_runs_nothing_and_says_why(tmp_path: Path) -> None:
    with SyncHost(tmp_path, str(tmp_path / "no-such-repo")) as host:
        wait(lambda: host.sync_status().get("fetch_error"))
        assert host.head() == "" and host.driver.containers == {}


def test_a_stack_deleted_from_the_repository_is_an_orphan_without_prune(
        repo: Repo, tmp_path: Path) -> None:
    repo.commit({"shop.yaml": stack_yaml()}, "add")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: running(host, "shop-web"))
        repo.commit({"shop.yaml": None}, "remove")
        host.fetch()
        wait(lambda: host.status().get("orphans") == ["shop-web"])


def test_a_commit_without_the_stack_folder_is_refused(repo: Repo, tmp_path: Path) -> None:
    good = repo.commit({"stacks/shop.yaml": stack_yaml()}, "good")
    with SyncHost(tmp_path, str(repo.path), path="stacks") as host:
        wait(lambda: host.stack("shop").get("commit") == good)
        gone = repo.commit({"stacks/shop.yaml": None, "other/x.yaml": stack_yaml()}, "moved")
        host.fetch()
        wait(lambda: host.sync_status().get("fetch_error"))
        assert host.sync_status()["fetch_error"] == f"commit {gone[:12]} has no folder 'stacks'"
        assert running(host, "shop-web") and host.head() == good


BOUND = stack_yaml("1").replace("    restart: always\n", """\
    restart: always
    volumes: ["./html:/srv/html:ro", "./conf/app.conf:/etc/app.conf:ro"]
""")


def test_only_a_change_of_a_bound_file_replaces_a_container(repo: Repo, tmp_path: Path) -> None:
    first = repo.commit({"shop.yaml": BOUND, "html/index.html": "v1\n",
                         "conf/app.conf": "a=1\n"}, "with binds")
    with SyncHost(tmp_path, str(repo.path)) as host:
        wait(lambda: host.stack("shop").get("commit") == first)
        mounts = (host.driver.containers["shop-web"].recorded_spec or {})["mounts"]
        assert mounts["/srv/html"]["source"] == str(host.sync.tree / "html")  # stable path
        unrelated = repo.commit({"README.md": "hello\n"}, "unrelated")
        host.fetch()
        wait(lambda: host.head() == unrelated)
        assert (host.sync.tree / "README.md").read_text() == "hello\n"
        page = repo.commit({"html/index.html": "v2\n", "README.md": None}, "new page")
        host.fetch()
        wait(lambda: host.head() == page)
        # a folder bind is a live view (docs/loop.md): updated in place, nothing replaced
        assert (host.sync.tree / "html" / "index.html").read_text() == "v2\n"
        assert not (host.sync.tree / "README.md").exists()
        assert host.driver.calls.count(("create", "shop-web")) == 1
        assert [e["commit"] for e in host.history("shop")] == [first]
        conf = repo.commit({"conf/app.conf": "a=2\n"}, "new conf")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == conf)  # a bound file: hashed
        assert host.driver.calls.count(("create", "shop-web")) == 2
        kept = {p.name for p in (host.state / "sync" / "revisions").iterdir()}
        assert kept == {conf}  # older exports are collected
