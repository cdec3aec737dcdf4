"""`init: true` on every driver, as Docker's `--init`: tini is PID 1, reaps the orphans the
app leaves, and hands the stop signal to the app; without it the app is PID 1, orphans
stay zombies and a plain `sleep` ignores SIGTERM until it is killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.drivers.base import ExecRequest
from reconciler.model.actions import FieldChange, Kind
from tests.contract.conftest import Story, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.docker]

# The subshell leaves `sleep 1` to PID 1 and exits; `exec` makes the app a process that
# never waits, so only an init reaps that orphan. The orphan must outlive the shell's `exec`:
# a `sleep 0` could die while `sh` (which reaps any child) was still PID 1, and then no
# zombie was left to see.
ORPHANS = """
containers:
  app:
    image: base
    command: ["sh", "-c", "(sleep 1 &); exec sleep 3600"]
    init: {init}
    stop_grace_period: 1s
"""

STOPS = """
containers:
  trapper:
    image: base
    command: ["sh", "-c", "trap 'exit 42' USR1; sleep 3600 & wait"]
    init: true
    stop_signal: SIGUSR1
    stop_grace_period: 10s
  sleeper:
    image: base
    command: ["sleep", "3600"]
    init: true
    stop_grace_period: 10s
  bare:
    image: base
    command: ["sleep", "3600"]
    stop_grace_period: 1s
"""

NO_ZOMBIE = ["sh", "-c", "! grep -qs '^State:.*Z' /proc/[0-9]*/status"]
# The orphan has exited (one `sleep` left, the app) and left no zombie behind.
REAPED = ["sh", "-c", f"{NO_ZOMBIE[2]} && test $(pidof sleep | wc -w) -eq 1"]


def run(story: Story, key: str, *argv: str) -> int:
    return story.driver.exec(f"{story.stack}-{key}", ExecRequest(argv=list(argv)))


def pid_1_is(story: Story, comm: str) -> bool:
    return run(story, "app", "sh", "-c", f'test "$(cat /proc/1/comm)" = {comm}') == 0


def host_cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_toggling_init_replaces_and_tini_becomes_pid_1_and_reaps(story: Story) -> None:
    story.write(ORPHANS, init="false")
    story.apply()
    seen = story.wait_state("app", "running")
    assert seen.pid is not None
    assert host_cmdline(seen.pid) == ["sleep", "3600"]
    assert pid_1_is(story, "sleep")
    # Without an init the orphan stays a zombie: the check below can fail.
    wait_for(lambda: run(story, "app", *NO_ZOMBIE) == 1, 10, "the orphan's zombie")

    story.write(ORPHANS, init="true")
    plan = story.plan()
    assert [a.kind for a in plan.actions] == [Kind.REPLACE]
    assert plan.actions[0].changes == (FieldChange("init", False, True),)
    story.apply()
    seen = story.wait_state("app", "running")
    assert seen.pid is not None
    assert host_cmdline(seen.pid) == [
        "/sbin/docker-init", "--", "sh", "-c", "(sleep 1 &); exec sleep 3600"]
    assert pid_1_is(story, "docker-init")
    wait_for(lambda: run(story, "app", *REAPED) == 0, 10, "the orphan reaped")
    app_is_inits_child = "grep -q '^PPid:[[:space:]]*1$' /proc/$(pidof sleep)/status"
    assert run(story, "app", "sh", "-c", app_is_inits_child) == 0
    assert run(story, "app", "sh", "-c", "echo x > /sbin/docker-init") != 0  # read-only
    assert story.plan().empty


def test_stop_hands_the_stop_signal_to_the_app_through_the_init(story: Story) -> None:
    story.write(STOPS)
    story.apply()
    for key in ("trapper", "sleeper", "bare"):
        story.wait_state(key, "running")
    codes = {}
    for key in ("trapper", "sleeper", "bare"):
        story.driver.stop(f"{story.stack}-{key}")
        codes[key] = story.wait_state(key, "exited").exit_code
    # trapper: tini forwarded SIGUSR1 and passed the app's exit code on; sleeper: SIGTERM
    # reached `sleep` (128 + 15) well before the 10s grace period ran out; bare: `sleep` as
    # PID 1 ignores SIGTERM and is killed when the grace period ends (128 + 9).
    assert codes == {"trapper": 42, "sleeper": 143, "bare": 137}
