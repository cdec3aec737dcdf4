"""The router: `{name}` parts bind one segment, 404 and 405 are told apart."""

from __future__ import annotations

import pytest

from reconciler.api.routes import HttpError, Request, Response, Router


def _named(tag: str):  # type: ignore[no-untyped-def]
    def handler(request: Request) -> Response:
        return Response.text(f"{tag} {dict(request.params)}")

    return handler


@pytest.fixture()
def router() -> Router:
    r = Router()
    r.add("GET", "/v1/containers", _named("list"))
    r.add("GET", "/v1/containers/{name}", _named("one"))
    r.add("GET", "/v1/containers/{name}/logs", _named("logs"))
    r.add("POST", "/v1/containers/{name}/stop", _named("stop"))
    r.add("GET", "/", _named("root"))
    return r


def _call(router: Router, method: str, path: str) -> str:
    handler, params = router.match(method, path)
    response = handler(Request(method, path, params))
    assert isinstance(response, Response)
    return response.body.decode()


def test_a_pattern_binds_its_named_segments(router: Router) -> None:
    assert _call(router, "GET", "/v1/containers/shop-web/logs") == "logs {'name': 'shop-web'}"
    assert _call(router, "GET", "/v1/containers/shop-web") == "one {'name': 'shop-web'}"
    assert _call(router, "GET", "/v1/containers/") == "list {}"  # trailing slash: same
    assert _call(router, "GET", "/") == "root {}"


def test_a_parameter_is_percent_decoded(router: Router) -> None:
    assert _call(router, "GET", "/v1/containers/a%20b") == "one {'name': 'a b'}"


def test_an_unknown_path_is_404_and_a_wrong_method_405(router: Router) -> None:
    with pytest.raises(HttpError) as missing:
        router.match("GET", "/v1/nope")
    assert missing.value.status == 404
    with pytest.raises(HttpError) as wrong:
        router.match("POST", "/v1/containers/shop-web")
    assert wrong.value.status == 405 and "GET" in wrong.value.message
    with pytest.raises(HttpError):
        router.match("GET", "/v1/containers/shop-web/stop/extra")


def test_head_is_answered_by_the_get_route(router: Router) -> None:
    handler, params = router.match("HEAD", "/v1/containers/x")
    assert params == {"name": "x"} and handler is router.match("GET", "/v1/containers/x")[0]


def test_a_route_added_twice_or_without_slash_is_refused(router: Router) -> None:
    with pytest.raises(ValueError, match="twice"):
        router.add("GET", "/v1/containers/{other}", _named("again"))
    with pytest.raises(ValueError, match="must start with /"):
        router.add("GET", "v1/x", _named("x"))


def test_query_helpers() -> None:
    request = Request("GET", "/", query={"tail": ["5"], "follow": ["1"], "bad": ["x"]})
    assert request.int_arg("tail") == 5 and request.flag("follow")
    assert request.int_arg("missing", 7) == 7 and not request.flag("missing")
    with pytest.raises(HttpError) as err:
        request.int_arg("bad")
    assert err.value.status == 400
    with pytest.raises(HttpError):
        Request("POST", "/", body=b"{not json").json()
