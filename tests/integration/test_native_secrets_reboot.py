"""After a reboot the tmpfs that held a native container's decrypted secrets is empty.
Simulated for real: the container's secret folder gets a tmpfs of its own, which is
unmounted under the running container. Observe then reports the lost fields, the plan
replaces the container with a field-level reason, and the apply (with the key) re-creates
it with its secrets back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.drivers.native.container.secretfs import LOST
from tests.integration.native_helpers import REPO, find_leaks, require_host
from tests.integration.secret_stacks import write_secret_stack

pytestmark = pytest.mark.integration
SECRET = "s3cr3t-" + "".join(random.choice("abcdefghij") for _ in range(12))


def mounted(path: Path) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


def test_a_container_whose_secrets_left_the_tmpfs_is_re_created(tmp_path: Path) -> None:
    require_host()
    made = write_secret_stack(tmp_path, SECRET, prefix="rb",
                              command='["sleep", "3600"]',
                              extra="    restart: always\n")
    stack, name, key = made.path, made.name, made.key
    state = tmp_path / "state"
    env = {**os.environ, "RECONCILE_AGE_KEY": str(key), "PYTHONPATH": str(REPO)}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "reconciler.cli", "--state-dir",
                               str(state), *args], capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=120)
        assert done.returncode == 0, (args, done.stderr)
        assert SECRET not in done.stderr
        return done.stdout

    from reconciler.drivers.native.driver import NativeDriver

    driver = NativeDriver(state)
    folder = driver.secretfs.folder(f"{name}-db")  # its own tmpfs: the "reboot" empties it
    folder.mkdir(parents=True, mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700,size=4m", "tmpfs", str(folder)],
                   check=True)
    try:
        cli("apply", str(stack))
        pid = driver.observe().by_name()[f"{name}-db"].pid
        assert cli("exec", f"{name}/db", "--", "cat", "/run/secrets/tls.key") == f"file-{SECRET}"
        subprocess.run(["umount", "-l", str(folder)], check=True)  # what a reboot leaves
        assert not (folder / "env.json").exists()

        seen = driver.observe().by_name()[f"{name}-db"]
        assert seen.recorded_spec is not None and seen.recorded_spec["env_file"] == LOST
        plan = json.loads(cli("plan", "-o", "json", str(stack)))
        [action] = [a for a in plan["actions"] if a["target"] == f"{name}-db"]
        assert action["kind"] == "replace"
        changed = {c["path"]: c["old"] for c in action["changes"]}
        assert changed == {"env_file": LOST, "secrets./run/secrets/tls.key.content": LOST}
        assert f'replace {name}-db  (env_file "{LOST}" → sha256:' in cli("plan", str(stack))

        cli("apply", str(stack))
        again = driver.observe().by_name()[f"{name}-db"]
        assert again.state == "running" and again.pid != pid
        assert cli("exec", f"{name}/db", "--", "cat", "/run/secrets/tls.key") == f"file-{SECRET}"
        assert cli("exec", f"{name}/db", "--", "sh", "-c", 'printf %s "$DB_PASSWORD"') == SECRET
        assert "No changes." in cli("plan", str(stack))
    finally:
        if mounted(folder):
            subprocess.run(["umount", "-l", str(folder)], check=False)
        subprocess.run([sys.executable, "-m", "reconciler.cli", "--state-dir", str(state),
                        "down", name], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert find_leaks(driver, {f"{name}-db"}) == []
    assert not folder.exists()
