"""`reconcile sync` through the command line, in the main thread as a service runs it:
it fetches, converges, serves the webhook, and stops cleanly on SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import threading
from pathlib import Path

import pytest

from reconciler.cli.main import main
from tests.fakes import InMemoryDriver
from tests.gitrepos import Repo, stack_yaml, wait
from tests.netutil import free_port


def test_sync_from_the_command_line_until_sigterm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = Repo(tmp_path / "origin")
    first = repo.commit({"stacks/shop.yaml": stack_yaml("1")}, "v1")
    secret = tmp_path / "secret"
    secret.write_text("hush\n")
    state, port, driver = tmp_path / "state", free_port(), InMemoryDriver()
    status = state / "loop" / "status.json"
    problems: list[str] = []

    def sync_doc() -> dict[str, object]:
        try:
            doc = json.loads(status.read_text()).get("sync") or {}
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def drive() -> None:
        try:
            wait(lambda: (sync_doc().get("stacks") or {}).get("shop", {}).get("commit") == first)
            second = repo.commit({"stacks/shop.yaml": stack_yaml("2")}, "v2")
            body = json.dumps({"ref": "refs/heads/main"}).encode()
            mac = hmac.new(b"hush", body, hashlib.sha256).hexdigest()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/", body=body, headers={"X-GitHub-Event": "push",
                                                          "X-Hub-Signature-256": f"sha256={mac}"})
            assert conn.getresponse().status == 202
            wait(lambda: (sync_doc().get("stacks") or {}).get("shop", {}).get("commit") == second)
        except AssertionError as err:
            problems.append(str(err))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    driver_thread = threading.Thread(target=drive)
    driver_thread.start()
    try:
        code = main(["--state-dir", str(state), "sync", "--repo", str(repo.path), "--path",
                     "stacks", "--interval", "1h", "--webhook", f"127.0.0.1:{port}",
                     "--webhook-secret-file", str(secret)], driver=driver)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        driver_thread.join(timeout=30)
    assert problems == [] and code == 0
    assert driver.containers["shop-web"].state == "running"  # left running on SIGTERM
    assert main(["--state-dir", str(state), "history", "shop"], driver=driver) == 0
    out = capsys.readouterr().out
    assert "v2" in out and "v1" in out
