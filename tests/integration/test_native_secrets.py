"""age-encrypted env files and `secrets:` files with the native driver, end to end: the
container sees the clear values (env, /run/secrets/tls.key); the state dir (spec.json, the
config.json path, logs, events, runc state) and every output never hold them; a restart
keeps them; `down` removes the tmpfs copy; a wrong key changes nothing (exit 3)."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyrage
import pytest

from tests.integration.native_helpers import REPO, find_leaks, require_host
from tests.integration.secret_stacks import write_secret_stack

pytestmark = pytest.mark.integration
SECRET = "s3cr3t-" + "".join(random.choice("abcdefghij") for _ in range(12))


def _files_under(root: Path) -> list[Path]:
    """Every regular file below `root`, symlinks not followed (the bundle link goes to the
    tmpfs) and mounts of other filesystems skipped (a container's rootfs overlay)."""
    found = []
    device = root.stat().st_dev
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if (Path(folder) / d).lstat().st_dev == device]
        for f in files:
            info = (Path(folder) / f).lstat()
            if stat.S_ISREG(info.st_mode) and info.st_dev == device:  # netns: nsfs mounts
                found.append(Path(folder) / f)
    return found


def test_encrypted_env_reaches_the_container_and_nothing_else(tmp_path: Path) -> None:
    require_host()
    made = write_secret_stack(tmp_path, SECRET, prefix="it",
                              command='["sh", "-c", "echo started; exec sleep 3600"]')
    stack, name, key = made.path, made.name, made.key
    state = tmp_path / "state"
    env = {**os.environ, "RECONCILE_AGE_KEY": str(key), "PYTHONPATH": str(REPO)}
    outputs: list[str] = []

    def cli(*args: str, code: int = 0) -> str:
        done = subprocess.run([sys.executable, "-m", "reconciler.cli", "--state-dir",
                               str(state), *args], capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=120)
        outputs.extend([done.stdout, done.stderr])
        assert done.returncode == code, (args, done.stderr)
        return done.stdout

    try:
        cli("plan", "-o", "json", str(stack))
        cli("apply", str(stack))
        seen = cli("exec", f"{name}/db", "--", "sh", "-c", 'printf %s "$DB_PASSWORD"')
        assert seen == SECRET
        outputs.pop(-2)  # that stdout is the one place the value may appear
        seen = cli("exec", f"{name}/db", "--", "cat", "/run/secrets/tls.key")
        assert seen == f"file-{SECRET}"
        outputs.pop(-2)
        cli("stop", f"{name}/db")
        cli("start", f"{name}/db")  # a restart re-makes the bundle from the tmpfs copy
        assert cli("exec", f"{name}/db", "--", "sh", "-c", 'printf %s "$DB_PASSWORD"') == SECRET
        outputs.pop(-2)
        assert cli("exec", f"{name}/db", "--", "cat", "/run/secrets/tls.key") == f"file-{SECRET}"
        outputs.pop(-2)
        for argv in (["ps", "-o", "json"], ["inspect", f"{name}/db"],
                     ["inspect", "--show-secrets", f"{name}/db"], ["events", "-o", "json"],
                     ["logs", f"{name}/db"], ["plan", str(stack)]):
            cli(*argv)
        bundle = state / "containers" / f"{name}-db" / "bundle"
        assert bundle.is_symlink() and str(bundle.resolve()).startswith("/dev/shm/")
        files = _files_under(state)
        assert any(f.name == "spec.json" for f in files)
        leaked = [str(f) for f in files if SECRET.encode() in f.read_bytes()]
        assert leaked == []
        assert [o for o in outputs if SECRET in o] == []
        # a wrong key: exit 3, nothing changes
        env["RECONCILE_AGE_KEY"] = str(pyrage.x25519.Identity.generate())
        stack.write_text(stack.read_text().replace("echo started", "echo again"))
        assert "cannot be decrypted" in cli("apply", str(stack), code=3) + outputs[-1]
    finally:
        env["RECONCILE_AGE_KEY"] = str(key)
        subprocess.run([sys.executable, "-m", "reconciler.cli", "--state-dir", str(state),
                        "down", name], env=env, cwd=REPO, capture_output=True, timeout=120)
    time.sleep(0.1)
    from reconciler.drivers.native.driver import NativeDriver

    driver = NativeDriver(state)
    assert find_leaks(driver, {f"{name}-db"}) == []
    assert not driver.secretfs.folder(f"{name}-db").exists()
