"""A stack's row says `failed` when one of its actions failed, an image pull included (its
action id names the image, not the stack), and only that stack's row says so."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from reconciler.api.present import stack_rows
from reconciler.loop.control import Loop
from reconciler.support.logsetup import configure_logging
from tests.fakes import InMemoryDriver

STACK = """\
version: 1
name: {name}
containers:
  web:
    image: "{image}"
"""
MISSING = "registry.local:5000/acme/missing:9"


def _status(state: Path) -> dict[str, object]:
    path = state / "loop" / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_failed_pull_marks_its_own_stack_failed(tmp_path: Path) -> None:
    configure_logging()
    folder = tmp_path / "stacks"
    folder.mkdir()
    (folder / "shop.yaml").write_text(STACK.format(name="shop", image=MISSING))
    (folder / "blog.yaml").write_text(STACK.format(name="blog", image="registry.local:5000/b:1"))
    driver = InMemoryDriver(fail_on={("ensure_image", MISSING)})
    loop = Loop(driver, tmp_path / "state", [folder], resync=3600)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any(s.get("last_error") for s in _status(tmp_path / "state").get(
                "stacks", [])):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the failed pull never reached the status"
            time.sleep(0.02)
        rows = {r["name"]: r for r in stack_rows(_status(tmp_path / "state"))}
    finally:
        loop.stop()
        thread.join(timeout=10)
    assert rows["shop"]["result"] == "failed"
    assert "injected failure of ensure_image" in rows["shop"]["last_error"]
    # Not `applied`: a convergence with a failure marks no stack applied; not failed either.
    assert rows["blog"]["result"] == "pending" and rows["blog"]["last_error"] is None

