"""One-shot apply waits for depends_on conditions (converge_wait), on the in-memory driver.

The fake's health comes from the real probes (exec through driver.exec), and a job's exit
is simulated by a driver whose `migrate` exits with a chosen code right after its start.
"""

from __future__ import annotations

from reconciler.drivers.base import ExecRequest
from reconciler.engine.converge import converge
from reconciler.model.desired import Dependency, Desired, DesiredStack, Healthcheck
from reconciler.model.records import replace
from reconciler.planner.plan import PlanOptions
from tests.fakes import InMemoryDriver
from tests.plan_fixtures import BASE_IMAGE, container

CHECK = Healthcheck(kind="exec", exec=("true",), interval=0.05, timeout=1.0, retries=2)
DB = container("db", BASE_IMAGE, healthcheck=CHECK)
MIGRATE = container("migrate", BASE_IMAGE, command=("migrate",))
WEB = container("web", BASE_IMAGE, depends_on=(Dependency("db", "healthy"),))
APP = container("app", BASE_IMAGE, depends_on=(Dependency("migrate", "completed"),))


class JobDriver(InMemoryDriver):
    """`shop-migrate` exits with `job_exit` right after start; exec fails `probe_fails`
    times before it succeeds (None: never)."""

    def __init__(self, job_exit: int = 0, probe_fails: int | None = 2) -> None:
        super().__init__()
        self.job_exit, self.probe_fails = job_exit, probe_fails

    def start(self, name: str) -> None:
        super().start(name)
        self.containers[name] = replace(self.containers[name], health="none")
        if name == "shop-migrate":
            self._set_state(name, state="exited", exit_code=self.job_exit, pid=None)

    def exec(self, name: str, request: ExecRequest) -> int:
        super().exec(name, request)
        if self.probe_fails is None:
            return 1
        self.probe_fails -= 1
        return 0 if self.probe_fails < 0 else 1


def apply(driver: InMemoryDriver, *specs: object, wait: float = 10.0) -> object:
    stack = DesiredStack("shop", "/srv/shop.yaml", images=(BASE_IMAGE,),
                         containers=specs)  # type: ignore[arg-type]
    return converge(Desired((stack,)), driver, PlanOptions(scope=frozenset({"shop"})),
                    wait=wait)


def _order(driver: InMemoryDriver) -> list[tuple[str, ...]]:
    return [c for c in driver.calls if c[0] in ("create", "start", "exec")]


def test_web_is_created_only_after_db_probes_healthy() -> None:
    driver = JobDriver(probe_fails=1)  # one failure (retries: 2), then a success
    done = apply(driver, DB, WEB)
    assert done.ok and done.unmet == []  # type: ignore[attr-defined]
    calls = _order(driver)
    first_web = calls.index(("create", "shop-web"))
    execs = [i for i, c in enumerate(calls) if c == ("exec", "shop-db")]
    assert len(execs) >= 2 and execs[1] < first_web
    assert len(done.plans) == 2  # type: ignore[attr-defined]


def test_app_starts_after_the_migration_exits_0() -> None:
    driver = JobDriver(job_exit=0)
    done = apply(driver, MIGRATE, APP)
    assert done.ok  # type: ignore[attr-defined]
    calls = _order(driver)
    assert calls.index(("start", "shop-migrate")) < calls.index(("create", "shop-app"))


def test_a_failing_migration_leaves_app_uncreated_with_the_reason() -> None:
    driver = JobDriver(job_exit=1)
    done = apply(driver, MIGRATE, APP)
    assert not done.ok and "shop-app" not in driver.containers  # type: ignore[attr-defined]
    unmet = done.unmet  # type: ignore[attr-defined]
    assert [(w.name, w.failed, w.reason) for w in unmet] == [
        ("shop-app", True, "shop-migrate exited with code 1; depends_on: completed")]
    assert not done.timed_out  # type: ignore[attr-defined]


def test_a_never_healthy_db_times_out_naming_it() -> None:
    driver = JobDriver(probe_fails=None)
    lenient = replace(DB, healthcheck=replace(CHECK, retries=1000))
    done = apply(driver, lenient, WEB, wait=0.5)
    assert done.timed_out and "shop-web" not in driver.containers  # type: ignore[attr-defined]
    assert [w.reason for w in done.unmet] == [  # type: ignore[attr-defined]
        "waiting for shop-db to be healthy (health: starting)"]


def test_an_unhealthy_db_fails_the_dependant_before_the_deadline() -> None:
    driver = JobDriver(probe_fails=None)
    done = apply(driver, DB, WEB, wait=30.0)
    assert not done.timed_out  # type: ignore[attr-defined]
    assert [(w.reason, w.failed) for w in done.unmet] == [  # type: ignore[attr-defined]
        ("shop-db is unhealthy; depends_on: healthy", True)]
