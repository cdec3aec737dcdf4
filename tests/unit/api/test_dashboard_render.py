"""The dashboard's HTML: every value escaped, states coloured, limits shown as bars, the
plan's field-level reasons listed; secrets (masked by the view) and env never shown."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from reconciler.api import dashboard
from reconciler.api.dashboard import render

EVIL = '<script>alert("x")</script>'


def row(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "shop-web", "key": "web", "stack": "shop", "state": "running",
        "health": "healthy", "restarts": 2, "ports": ["8080:80"], "image": "web",
        "limits": {"memory": 256 << 20, "cpus": 0.5},
        "usage": {"cpu_percent": 40.0, "memory_usage": 240 << 20, "memory_limit": 256 << 20,
                  "pids": 3},
        "backoff": {"next_attempt": None, "last_exits": [137]},
    }
    return {**base, **over}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def tags(html: str) -> list[str]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def test_a_hostile_value_anywhere_is_text_never_markup() -> None:
    html = render.stacks_html([{"name": EVIL, "result": "failed", "last_error": EVIL,
                                "source": EVIL, "revision": EVIL}],
                              [row(name=EVIL, key=EVIL, stack=EVIL, state=EVIL, image=EVIL,
                                   ports=[EVIL], health=EVIL)])
    assert "<script" not in html and "script" not in tags(html)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    plan = render.plan_html({"actions": [{"kind": EVIL, "target": EVIL, "reason": EVIL,
                                          "changes": [{"path": EVIL, "old": EVIL,
                                                       "new": EVIL}]}]})
    assert "<script" not in plan and "script" not in tags(plan)
    page = render.page(host=EVIL, pid=EVIL, version="1", stacks="", plan="")
    assert tags(page).count("script") == 1  # app.js, nothing else


def test_a_container_row_shows_state_health_restarts_ports_and_usage_against_limits() -> None:
    html = render.container_row(row())
    assert 'class="pill ok">running<' in html and 'class="pill ok">healthy<' in html
    assert 'data-field="restarts" class="num">2' in html and "exits 137" in html
    assert "8080:80" in html
    assert "cpu 40.0% / 50%" in html and 'data-share="80"' in html  # 40 of 50 %
    assert "mem 240Mi / 256Mi" in html and 'class="meter bad"' in html  # 94 %: red
    for verb in ("restart", "stop"):
        assert f'data-verb="{verb}" data-name="shop-web"' in html
    assert 'data-verb="start"' not in html
    stopped = render.container_row(row(state="user-stopped"))
    assert 'data-verb="start"' in stopped and 'data-verb="stop"' not in stopped


def test_states_get_their_colour_and_no_usage_is_a_dash() -> None:
    backoff = render.container_row(row(state="backoff", health="none", usage=None))
    assert 'class="pill warn">backoff<' in backoff and "cpu –" in backoff
    assert 'class="pill bad">gave-up<' in render.container_row(row(state="gave-up"))
    assert 'class="pill user">user-stopped<' in render.container_row(row(state="user-stopped"))


def test_containers_group_under_their_stack_with_its_result() -> None:
    html = render.stacks_html(
        [{"name": "shop", "result": "applied", "revision": "0123456789abcdef"},
         {"name": "blog", "result": "invalid", "last_error": "blog.yaml:3:5: bad"}],
        [row(), row(name="shop-db", key="db")])
    blog, shop = html.split('data-stack="shop"')  # sorted by name: blog first
    assert "blog.yaml:3:5: bad" in blog and 'class="pill bad">invalid<' in blog
    assert "shop-web" not in blog
    assert "shop-web" in shop and "shop-db" in shop and "0123456789ab<" in shop
    assert "No stacks are watched yet" in render.stacks_html([], [])
    assert 'data-tile="running"><b>2/2<' in html and 'data-tile="restarts"><b>4<' in html


def test_the_plan_lists_each_action_with_its_field_level_reasons() -> None:
    html = render.plan_html({"ready": True, "actions": [
        {"kind": "replace", "target": "shop-web", "reason": "spec changed",
         "changes": [{"path": "env.TZ", "old": "UTC", "new": "Europe/Paris"},
                     {"path": "env.API_TOKEN", "old": "***", "new": "***"}]}],
        "summary": {"text": "1 to replace"}})
    assert 'class="pill warn">replace<' in html and "<b>shop-web</b>" in html
    assert "spec changed" in html and "env.TZ" in html
    assert ">UTC<" in html and ">Europe/Paris<" in html and "1 to replace" in html
    assert "✓ In sync" in render.plan_html({"ready": True, "actions": [], "summary": {}})
    assert "not converged yet" in render.plan_html({"ready": False})


def test_the_page_is_framed_by_nobody_and_runs_only_its_own_script() -> None:
    csp = dashboard.HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert b"EventSource" in dashboard.static_file("app.js")
    assert b".pill.ok" in dashboard.static_file("style.css")
    assert b"innerHTML = await response.text()" in dashboard.static_file("app.js")
    assert b".innerHTML" not in dashboard.static_file("app.js").replace(
        b"target.innerHTML = await response.text()", b"")  # only server fragments


def test_the_login_page_runs_only_its_hashed_script_and_holds_no_data() -> None:
    import base64
    import hashlib

    from reconciler.api.dashboard import login

    page = login.login_page()
    csp = page.headers["Content-Security-Policy"]
    digest = base64.b64encode(hashlib.sha256(login.SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert f"<script>{login.SCRIPT}</script>" in page.body.decode()
    assert "reconcile_token=" in login.SCRIPT and "SameSite=Strict" in login.SCRIPT
    assert 'method="post"' in page.body.decode()  # scripts off: never a token in a URL
    refused = login.to_login()
    assert refused.status == 401 and b"/login" in refused.body


class View:
    """What the dashboard reads of LoopView, with a hostile stack name."""

    def status(self) -> dict[str, Any]:
        return {"pid": 42}

    def stacks(self) -> list[dict[str, Any]]:
        return [{"name": EVIL, "result": "applied"}]

    def containers(self, usage: bool = True) -> list[dict[str, Any]]:
        assert not usage  # sampled by the dashboard, in parallel
        return [row(stack=EVIL, usage=None, observed_state="running"),
                row(name="shop-db", stack=EVIL, usage=None, observed_state="exited",
                    state="exited")]

    def stats(self, name: str) -> dict[str, Any]:
        assert name == "shop-web"  # only running containers are sampled
        return {"name": name, "cpu_percent": 12.5, "memory_usage": 1 << 20,
                "memory_limit": None, "pids": 1}

    def plan(self) -> dict[str, Any]:
        return {"ready": True, "actions": [], "summary": {"text": "nothing"}}


def test_the_routes_answer_html_with_the_headers_and_only_the_known_files() -> None:
    import pytest

    from reconciler.api.routes import HttpError, Request, Router

    router = Router()
    dashboard.register(router, View())
    for path in ("/", "/dashboard/fragments/stacks", "/dashboard/fragments/plan"):
        handler, params = router.match("GET", path)
        response = handler(Request("GET", path, params))
        assert response.status == 200 and "text/html" in response.headers["Content-Type"]
        assert response.headers["Content-Security-Policy"] == \
            dashboard.HEADERS["Content-Security-Policy"]
        assert b"<script>" not in response.body  # the hostile name stays text
    page = router.match("GET", "/")[0](Request("GET", "/")).body.decode()
    assert "loop pid 42" in page and "shop-web" in page and "In sync" in page
    assert "cpu 12.5% / 50%" in page and "mem 1Mi / 256Mi" in page
    handler, params = router.match("GET", "/dashboard/app.js")
    assert handler(Request("GET", "/dashboard/app.js", params)).body.startswith(b"// reconcile")
    handler, params = router.match("GET", "/dashboard/render.py")
    with pytest.raises(HttpError) as refused:
        handler(Request("GET", "/dashboard/render.py", params))
    assert refused.value.status == 404  # package files other than the page's are not served
