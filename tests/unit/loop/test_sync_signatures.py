"""`reconcile sync --verify-signatures`: only commits signed by a key in the given keyring
(a GnuPG home) are applied; unsigned commits and commits signed by another key are
refused, reported, and the last good revision stays. Throwaway keys, made in the test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitrepos import Repo, SyncHost, stack_yaml, wait
from tests.requirements import need


def make_key(name: str) -> tuple[Path, str]:
    """A GnuPG home (short path: the agent's socket lives in it) with one signing key."""
    home = Path(tempfile.mkdtemp(prefix="rgpg", dir="/tmp"))
    home.chmod(0o700)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--passphrase", "",
                    "--quick-gen-key", f"{name} <{name}@example.invalid>", "ed25519", "sign",
                    "never"], check=True, capture_output=True)
    out = subprocess.run(["gpg", "--homedir", str(home), "--list-keys", "--with-colons"],
                         check=True, capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in out.splitlines()
                       if line.startswith("fpr:"))
    return home, fingerprint


@pytest.fixture()
def keys() -> Iterator[dict[str, tuple[Path, str]]]:
    need(shutil.which("gpg"), "gpg is not installed (Debian package gnupg)")
    made = {"trusted": make_key("trusted"), "stranger": make_key("stranger")}
    yield made
    for home, _ in made.values():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"],
                       check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def signed_commit(repo: Repo, key: tuple[Path, str], env: str, message: str) -> str:
    home, fingerprint = key
    return repo.commit({"shop.yaml": stack_yaml(env)}, message, f"-S{fingerprint}",
                       env={"GNUPGHOME": str(home)})


def test_only_commits_signed_by_a_key_in_the_keyring_are_applied(
        keys: dict[str, tuple[Path, str]], tmp_path: Path) -> None:
    repo = Repo(tmp_path / "origin")
    good = signed_commit(repo, keys["trusted"], "1", "signed")
    with SyncHost(tmp_path, str(repo.path), keyring=keys["trusted"][0]) as host:
        wait(lambda: host.stack("shop").get("commit") == good, timeout=20)
        unsigned = repo.commit({"shop.yaml": stack_yaml("2")}, "not signed")
        host.fetch()
        wait(lambda: unsigned[:12] in host.sync_status().get("fetch_error", ""), timeout=20)
        assert "is not signed by a key in" in host.sync_status()["fetch_error"]
        assert host.env("shop-web") == {"VERSION": "1"} and host.head() == good
        [event] = host.events("loop-sync-fetch-failed")
        assert event["commit"] == unsigned and event["subject"] == "not signed"
        stranger = signed_commit(repo, keys["stranger"], "3", "signed by a stranger")
        host.fetch()
        wait(lambda: stranger[:12] in host.sync_status().get("fetch_error", ""), timeout=20)
        assert host.env("shop-web") == {"VERSION": "1"}
        again = signed_commit(repo, keys["trusted"], "4", "signed again")
        host.fetch()
        wait(lambda: host.stack("shop").get("commit") == again, timeout=20)
        assert host.env("shop-web") == {"VERSION": "4"}
        assert host.sync_status()["fetch_error"] == ""
