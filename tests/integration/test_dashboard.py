"""The dashboard in a real browser, and /metrics read by Prometheus' own parser, against a
real `reconcile run` (native driver, busybox containers) serving its API on loopback TCP.

Debian's chromium runs headless under Selenium with chromium-driver and signs in as a
user would (/login puts the token in the reconcile_token cookie). The browser test
checks that the stack's containers appear, that a container killed behind the loop's
back (kill -9 of its pid) shows its restart without a reload, that stop/start go through
the confirmation dialog and the API's CSRF check, that a container's log tail and stats
chart follow, and that the plan view shows a pending change's field-level reasons; it
saves a screenshot (`RECONCILE_DASHBOARD_SHOT=PATH` keeps a copy, for the README).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.loop_helpers import LoopHost, loop_host, wait_until
from tests.requirements import missing, need

pytestmark = pytest.mark.integration
__all__ = ["loop_host"]

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
UNREACHABLE = "127.0.0.1:9/acme/web:2"  # the discard port: nothing answers, the pull fails
CLOCK = """\
  clock:
    image: bb
    command: ["sh", "-c", "while true; do echo tick $(date +%T); sleep 1; done"]
    stop_signal: SIGKILL
    restart: always
    limits: {memory: 64Mi, cpus: 0.5}
"""


class Api:
    def __init__(self, host: LoopHost) -> None:
        self.host = host
        self.name = f"{host.prefix}d"
        self.token = secrets.token_hex(24)
        token_file = host.root / "token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.stack = host.write(f"{self.name}.yaml", self.text("1"), self.name)
        host.start("--listen", f"127.0.0.1:{self.port}", options=("--token-file", str(token_file)))

    def text(self, version: str, image: str = "bb") -> str:
        text = self.host.stack_text(self.name, {"web": version, "worker": "1"}, extra=CLOCK)
        return text.replace("image: bb", f"image: {image}", 1)

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers={
            "Authorization": f"Bearer {self.token if token is None else token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def answers(self) -> bool:
        try:
            return self.get("/v1/version")[0] == 200
        except OSError:  # URLError too: not listening yet
            return False

    def rows(self) -> dict[str, dict[str, Any]]:
        return self.host.ps(self.name)

    def running(self) -> dict[str, dict[str, Any]] | None:
        rows = self.rows()
        up = all(r["state"] == "running" for r in rows.values())
        return rows if len(rows) == 3 and up else None


@pytest.fixture()
def api(loop_host: LoopHost) -> Iterator[Api]:
    api = Api(loop_host)
    try:
        wait_until(api.answers, 60, "the API answers")
        wait_until(api.running, 60, "both containers running")
    except AssertionError as err:
        raise AssertionError(f"{err}; the loop's log ends: {loop_host.log()[-2000:]}") from None
    yield api


@pytest.fixture()
def browser() -> Iterator[Any]:
    need(CHROMIUM.exists(), "the browser test needs Debian's chromium (apt-get install chromium)")
    need(CHROMEDRIVER.exists(), "the browser test needs chromium-driver (apt-get install "
         "chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("the browser test needs selenium (pip install selenium: the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1440,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: Any, css: str) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return str(driver.find_element("css selector", css).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def click(driver: Any, css: str, timeout: float = 15) -> None:
    """Find and click `css`, again if the page swapped that part in between: the live
    updates replace a row's HTML on each event, which makes a found element stale."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def clicked() -> bool:
        try:
            driver.find_element("css selector", css).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait_until(clicked, timeout, f"a click on {css}")


def test_without_the_token_nothing_is_served_and_no_stack_is_named(api: Api) -> None:
    for path in ("/", "/metrics", "/dashboard/fragments/stacks", "/dashboard/app.js"):
        status, body = api.get(path, token="not-the-token-" + "x" * 20)
        assert status == 401, path
        assert api.name.encode() not in body and b"reconcile_" not in body


def test_metrics_parse_and_match_ps(api: Api) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    web = api.rows()[f"{api.name}-web"]
    os.kill(web["pid"], signal.SIGKILL)  # behind the loop's back
    wait_until(lambda: (r := api.rows()[f"{api.name}-web"])["restarts"] > web["restarts"]
               and r["state"] == "running", 30, "web restarted")
    status, body = api.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    rows = api.rows()
    mine = [s for s in families["reconcile_container_restarts"].samples
            if s.labels["stack"] == api.name]
    assert {s.labels["container"]: s.value for s in mine} == \
        {name: row["restarts"] for name, row in rows.items()}
    states = {(s.labels["state"], s.labels["health"]): s.value
              for s in families["reconcile_containers"].samples if s.labels["stack"] == api.name}
    assert states == dict(Counter((r["state"], r["health"]) for r in rows.values()))
    assert states == {("running", "none"): 3}
    deaths = {s.labels["container"]: s.value for s in families["reconcile_container_deaths"]
              .samples if s.name.endswith("_total")}
    assert deaths[f"{api.name}-web"] == 1
    ok = [s.value for s in families["reconcile_converges"].samples
          if s.labels["result"] == "ok"]
    assert ok and ok[0] >= 2  # the first convergence and the restart
    hist = {s.name: s.value for s in families["reconcile_converge_duration_seconds"].samples
            if "le" not in s.labels}
    assert hist["reconcile_converge_duration_seconds_count"] >= ok[0]
    last = families["reconcile_last_successful_converge_timestamp_seconds"].samples[0].value
    assert abs(last - json.loads(api.get("/v1/status")[1])["updated_at"]) < 60
    pulls = families["reconcile_image_pulls"].samples[0].value
    assert pulls == 0  # an oci image is imported, not pulled
    assert families["reconcile_loop_lag_seconds"].samples[0].value < 5


def test_the_dashboard_shows_containers_restarts_live_actions_and_the_plan(
        api: Api, browser: Any, tmp_path: Path) -> None:
    driver = browser
    driver.get(api.base + "/")  # no token yet: the 401 page sends the browser to sign in
    wait_until(lambda: driver.find_elements("css selector", "input#token"), 15, "login")
    assert api.name not in driver.page_source
    driver.find_element("css selector", "input#token").send_keys(api.token)
    driver.find_element("css selector", "form#login button").click()
    wait_until(lambda: driver.find_elements("css selector", "tr.container"), 15, "dashboard")
    assert api.token not in driver.current_url
    web, worker = f"{api.name}-web", f"{api.name}-worker"
    row = f'tr.container[data-name="{web}"]'
    assert text_of(driver, f'{row} [data-field="state"]') == "running"
    assert text_of(driver, f'tr.container[data-name="{worker}"] [data-field="state"]') == \
        "running"
    wait_until(lambda: text_of(driver, "#live") == "live", 20, "the event feed connected")
    # kill -9 behind the loop's back: the restart shows without a reload
    before = api.rows()[web]
    marker = driver.execute_script("window.__same_page = true; return 1")
    os.kill(before["pid"], signal.SIGKILL)
    wait_until(lambda: text_of(driver, f'{row} [data-field="restarts"]').split()[:1] ==
               [str(before["restarts"] + 1)], 30, "the restart count changed on the page")
    wait_until(lambda: "died" in text_of(driver, "#events"), 10, "the death in the feed")
    assert driver.execute_script("return window.__same_page === true") and marker == 1
    # stop and start through the confirmation dialog: POSTs the CSRF check accepts
    worker_row = f'tr.container[data-name="{worker}"]'
    _act(driver, worker_row, "stop")
    wait_until(lambda: api.rows()[worker]["state"] == "user-stopped", 30, "worker stopped")
    wait_until(lambda: text_of(driver, f'{worker_row} [data-field="state"]') == "user-stopped",
               15, "the page shows it stopped")
    _act(driver, worker_row, "start")
    wait_until(lambda: text_of(driver, f'{worker_row} [data-field="state"]') == "running",
               30, "the page shows it running again")
    # a container's live log tail and its chart, fed by the stats stream
    clock = f'tr.container[data-name="{api.name}-clock"]'
    click(driver, f"{clock} a.name")
    wait_until(lambda: text_of(driver, "#logs").count("tick") >= 3, 20, "live log lines")
    wait_until(lambda: "of 64.0 MiB" in text_of(driver, "#detail-usage")
               or "of 64 MiB" in text_of(driver, "#detail-usage"), 15, "a stats sample")
    wait_until(lambda: driver.execute_script("return detail ? detail.mem.length : 0") >= 4,
               20, "the chart's samples")
    seen = text_of(driver, "#logs").count("tick")
    wait_until(lambda: text_of(driver, "#logs").count("tick") > seen, 10, "the tail follows")
    # a pending change: the new image cannot be pulled, so the replace stays planned
    api.host.write(api.stack.name, api.text("2", image=UNREACHABLE), api.name)
    wait_until(lambda: "env.VERSION" in text_of(driver, "#plan"), 30, "the plan's reasons")
    plan = driver.find_element("css selector", f'#plan li.action[data-target="{web}"]').text
    assert "replace" in plan and "env.VERSION" in plan and "1" in plan and "2" in plan
    assert api.rows()[web]["pid"] is not None  # still running the old version
    shot = tmp_path / "dashboard.png"
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if keep := os.environ.get("RECONCILE_DASHBOARD_SHOT"):
        shutil.copy(shot, keep)
    signed_out = f"{api.base}/ - Failed to load resource: the server responded with a status " \
        "of 401"  # the first load, before signing in
    logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and not e["message"].startswith(signed_out)]
    assert logs == [], logs


def _act(driver: Any, row: str, verb: str) -> None:
    click(driver, f'{row} button[data-verb="{verb}"]')
    dialog = driver.find_element("css selector", "dialog#confirm")
    wait_until(lambda: dialog.get_attribute("open") is not None, 5, "the confirmation")
    assert verb in dialog.text.lower()
    click(driver, "#confirm-ok")
