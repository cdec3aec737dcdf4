"""The driver contract: the same user stories on every driver (native, docker), through
the real loader, planner and executor. Each test's stack is torn down afterwards with
`down --volumes`, and the fixture checks that nothing of it is left on the host."""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from pathlib import Path

import pytest

from reconciler.drivers.base import DriverEvent, ExecRequest
from reconciler.model.actions import Kind
from tests.contract.conftest import Story, wait_for
from tests.netutil import free_port

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SLEEPER = """
containers:
  app:
    image: base
    command: ["sh", "-c", "echo started; exec sleep 3600"]
    env: {{MODE: "{mode}"}}
    stop_grace_period: 1s
"""

WEB = """
containers:
  web:
    image: base
    command: ["sh", "-c", "echo hello-from-web > /var/www/index.html; exec httpd -f -p 8080 -h /var/www"]
    ports: ["127.0.0.1:{port}:8080"]
    stop_grace_period: 1s
  client:
    image: base
    command: ["sleep", "3600"]
    depends_on: {{web: started}}
    stop_grace_period: 1s
"""  # noqa: E501


def kinds(story: Story) -> list[str]:
    return [a.kind for a in story.plan().actions]


def run(story: Story, key: str, *argv: str) -> int:
    return story.driver.exec(f"{story.stack}-{key}", ExecRequest(argv=list(argv)))


def test_create_then_reapply_is_a_no_op(story: Story) -> None:
    story.write(SLEEPER, mode="a")
    first = story.apply()
    assert {a.kind for a in first.first_plan.actions} >= {Kind.CREATE}
    seen = story.wait_state("app", "running")
    assert seen.pid is not None and seen.image_digest.startswith("sha256:")
    assert story.plan().empty, story.plan_text()


def test_a_changed_env_replaces_the_container(story: Story) -> None:
    story.write(SLEEPER, mode="a")
    story.apply()
    before = story.wait_state("app", "running")
    story.write(SLEEPER, mode="b")
    plan = story.plan()
    assert [a.kind for a in plan.actions] == [Kind.REPLACE]
    assert [c.path for c in plan.actions[0].changes] == ["env.MODE"]
    story.apply()
    after = story.wait_state("app", "running")
    assert after.created_at != before.created_at
    assert run(story, "app", "sh", "-c", 'test "$MODE" = b') == 0


def test_an_orphan_is_reported_then_pruned(story: Story) -> None:
    story.write(SLEEPER + """  worker:
    image: base
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""", mode="a")
    story.apply()
    story.write(SLEEPER, mode="a")
    assert story.plan().orphans == (f"{story.stack}-worker",)
    story.apply(prune=True)
    assert story.seen("worker") is None and story.seen("app") is not None


def _cgroup_file(pid: int, controller: str, name: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return (Path("/sys/fs/cgroup") / controllers / path.lstrip("/") / name).read_text()
        if controllers == "" and Path(f"/sys/fs/cgroup{path}/{name}").exists():
            return Path(f"/sys/fs/cgroup{path}/{name}").read_text()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def test_limits_are_what_the_kernel_applies(story: Story) -> None:
    story.write("""
containers:
  app:
    image: base
    command: ["sleep", "3600"]
    limits: {memory: 64Mi, cpus: 0.5, pids: 50, ulimits: {nofile: [1024, 2048]}}
    stop_grace_period: 1s
""")
    story.apply()
    pid = story.wait_state("app", "running").pid
    assert pid is not None
    assert int(_cgroup_file(pid, "memory", "memory.limit_in_bytes")) == 64 << 20
    assert int(_cgroup_file(pid, "pids", "pids.max")) == 50
    quota = int(_cgroup_file(pid, "cpu", "cpu.cfs_quota_us"))
    period = int(_cgroup_file(pid, "cpu", "cpu.cfs_period_us"))
    assert quota / period == pytest.approx(0.5)
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert any(line.startswith("Max open files") and line.split()[3:5] == ["1024", "2048"]
               for line in limits.splitlines())


def test_kill_9_is_restarted_by_the_next_apply(story: Story) -> None:
    story.write("""
containers:
  app:
    image: base
    command: ["sleep", "3600"]
    restart: always
    stop_grace_period: 1s
""")
    story.apply()
    pid = story.wait_state("app", "running").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    dead = story.wait_state("app", "exited")
    assert dead.exit_code == 137
    assert kinds(story) == [Kind.START]
    story.apply()
    again = story.wait_state("app", "running")
    assert again.pid != pid and again.restart_count == 1


def test_watch_reports_a_death_with_its_exit_code(story: Story) -> None:
    story.write(SLEEPER, mode="a")
    story.apply()
    seen = story.wait_state("app", "running")
    deaths: list[DriverEvent] = []
    got = threading.Event()

    def on_event(event: DriverEvent) -> None:
        if event.name == seen.name:
            deaths.append(event)
            got.set()

    subscription = story.driver.watch(on_event)
    try:
        assert seen.pid is not None
        os.kill(seen.pid, signal.SIGKILL)
        assert got.wait(10), "no death event"
    finally:
        subscription.close()
    assert deaths[0].kind == "died" and deaths[0].exit_code == 137


def test_on_failure_2_gives_up_after_two_restarts(story: Story) -> None:
    story.write("""
containers:
  job:
    image: base
    command: ["sh", "-c", "exit 3"]
    restart: on-failure:2
""")
    applies = 0
    while applies < 6:  # one apply may restart more than once (converge re-plans)
        story.apply()
        applies += 1
        story.wait_state("job", "exited")
        if story.plan().empty:
            break
        assert kinds(story) == [Kind.START]
    final = story.wait_state("job", "exited")
    assert final.exit_code == 3 and final.restart_count == 2
    assert story.plan().empty


def test_logs_keep_both_streams(story: Story) -> None:
    story.write("""
containers:
  app:
    image: base
    command: ["sh", "-c", "echo to-out; echo to-err >&2; exec sleep 3600"]
    stop_grace_period: 1s
""")
    story.apply()
    name = story.wait_state("app", "running").name

    def lines() -> list[tuple[str, str]]:
        return [(line.stream, line.text) for line in story.driver.logs(name)]

    got = wait_for(lambda: len(lines()) >= 2 and lines(), 10, "two log lines")
    assert ("stdout", "to-out") in got and ("stderr", "to-err") in got
    assert len(list(story.driver.logs(name, tail=1))) == 1


def test_exec_passes_the_exit_status_through(story: Story) -> None:
    story.write(SLEEPER, mode="a")
    story.apply()
    story.wait_state("app", "running")
    assert run(story, "app", "sh", "-c", "exit 7") == 7
    assert run(story, "app", "true") == 0


def test_containers_resolve_each_other_and_a_published_port_answers(story: Story) -> None:
    port = free_port()
    story.write(WEB, port=port)
    story.apply()
    story.wait_state("web", "running")
    story.wait_state("client", "running")
    fetch = ("sh", "-c", "wget -q -O /tmp/page http://web:8080/ && grep -q hello-from-web "
             "/tmp/page")
    wait_for(lambda: run(story, "client", *fetch) == 0, 10, "client reaches web by name")

    def answer() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                return str(reply.read().decode())
        except OSError:
            return ""

    assert "hello-from-web" in wait_for(answer, 10, f"127.0.0.1:{port}")


def test_network_none_has_only_loopback_with_its_own_etc_files(story: Story) -> None:
    story.write("""
containers:
  solo:
    image: base
    command: ["sh", "-c", "echo up > /var/www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /var/www"]
    network: none
    hostname: solo-host
    stop_grace_period: 1s
""")  # noqa: E501
    story.apply()
    story.wait_state("solo", "running")
    assert run(story, "solo", "sh", "-c", 'test "$(ls /sys/class/net)" = lo') == 0
    assert run(story, "solo", "sh", "-c", 'test "$(hostname)" = solo-host') == 0
    assert run(story, "solo", "grep", "-qE", "^127.0.0.1[[:space:]]+localhost", "/etc/hosts") == 0
    assert run(story, "solo", "grep", "-qw", "solo-host", "/etc/hosts") == 0
    assert run(story, "solo", "sh", "-c", "echo 10.9.9.9 extra >> /etc/hosts") == 0
    assert run(story, "solo", "test", "-f", "/etc/resolv.conf") == 0
    fetch = ("sh", "-c", "wget -q -O - http://localhost:8080/ | grep -q up")
    wait_for(lambda: run(story, "solo", *fetch) == 0, 10, "httpd on the container's loopback")


def test_a_volume_survives_a_replace(story: Story) -> None:
    body = """
volumes:
  data: {{}}
containers:
  app:
    image: base
    command: ["sleep", "3600"]
    env: {{MODE: "{mode}"}}
    volumes: ["data:/data"]
    stop_grace_period: 1s
"""
    story.write(body, mode="a")
    story.apply()
    story.wait_state("app", "running")
    assert run(story, "app", "sh", "-c", "echo kept > /data/file") == 0
    story.write(body, mode="b")
    assert kinds(story) == [Kind.REPLACE]
    story.apply()
    story.wait_state("app", "running")
    assert run(story, "app", "grep", "-q", "kept", "/data/file") == 0


def test_down_leaves_nothing(story: Story) -> None:
    port = free_port()
    story.write(WEB + """volumes:
  data: {{}}
""", port=port)
    story.apply()
    story.wait_state("client", "running")
    assert story.driver.observe(frozenset({story.stack})).volumes == {f"{story.stack}-data"}
    story.down()
    assert story.leftovers() == []


def test_operators_commands(story: Story) -> None:
    story.write("""
containers:
  app:
    image: base
    command: ["sleep", "3600"]
    limits: {memory: 64Mi}
    stop_grace_period: 1s
""")
    story.apply()
    seen = story.wait_state("app", "running")
    driver = story.driver
    driver.pause(seen.name)
    assert story.wait_state("app", "paused").pid == seen.pid
    driver.unpause(seen.name)
    story.wait_state("app", "running")
    stats = driver.stats(seen.name)
    assert stats.memory_limit == 64 << 20 and stats.pids >= 1 and stats.memory_usage > 0
    assert driver.inspect(seen.name)  # backend details, JSON-able
    assert driver.host_facts()
    images = driver.list_images()
    assert seen.image_digest in {i.digest for i in images}
    assert driver.prune_images(frozenset({seen.image_digest})) == []
    driver.stop(seen.name, timeout=1)
    assert story.wait_state("app", "exited").exit_code is not None
    driver.remove(seen.name)
    assert driver.prune_images(frozenset()) == [seen.image_digest]
    assert seen.image_digest not in {i.digest for i in driver.list_images()}
    assert story.plan().actions[0].kind == Kind.IMPORT  # gone: imported again if wanted
