"""The docker driver's edge: the JSON client over a real unix socket (a scripted engine),
and engine errors becoming the project's own, with messages that say what was tried and
what to do."""

from __future__ import annotations

import _socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import docker.errors
import pytest
import requests

from reconciler.drivers.docker import client, engine_api
from reconciler.drivers.docker.engine_api import (
    EngineAPI,
    EngineConnectionError,
    EngineHTTPError,
    EngineTimeout,
)
from reconciler.model.errors import DriverError, ImageError, NotFound
from tests.unit.docker.fake_engine import fake_engine


class _Response:
    status_code = 404
    reason = "Not Found"
    url = "http://engine/containers/x/json"

    def json(self) -> dict[str, Any]:
        return {"message": "No such container: x"}


def test_an_unreachable_engine_names_the_host_and_how_to_start_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    with pytest.raises(client.EngineUnavailable) as caught:
        client.connect()
    assert f"unix://{tmp_path}/missing.sock (DOCKER_HOST)" in str(caught.value)
    assert "dockerd" in str(caught.value)


def test_permission_denied_on_the_socket_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    class Refusing(_socket.socket):  # the client makes its unix sockets with _socket
        def connect(self, *_: Any) -> None:
            raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(engine_api, "_socket", SimpleNamespace(
        AF_UNIX=_socket.AF_UNIX, SOCK_STREAM=_socket.SOCK_STREAM, socket=Refusing))
    with pytest.raises(client.EngineUnavailable) as caught:
        client.connect()
    text = str(caught.value)
    assert "permission denied" in text and client.DEFAULT_HOST in text and "docker` group" in text


def test_an_engine_too_old_is_refused(tmp_path: Path) -> None:
    with fake_engine(tmp_path, api_version="1.30") as engine, pytest.raises(
            client.EngineUnavailable, match=r"API 1\.30; reconcile needs 1\.41"):
        client.connect(engine.host)


def test_an_address_the_client_cannot_speak_is_refused_clearly() -> None:
    with pytest.raises(client.EngineUnavailable, match="only unix:// and tcp://"):
        client.connect("ssh://user@host")


def test_calls_are_versioned_json_on_one_kept_alive_connection(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", "/v1.41/containers/json", body=[{"Id": "a"}])
        engine.answer("POST", "/v1.41/containers/a/start", status=304)
        api = client.connect(engine.host)
        listed = api.call("GET", "/containers/json", {"all": True, "filters": {"label": ["x"]}})
        assert listed == [{"Id": "a"}]
        assert api.status("POST", "/containers/a/start") == 304
        assert engine.connections == 1  # the ping's connection, kept alive for both
    method, path, _ = engine.requests[1]
    assert method == "GET" and path == (
        "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A+%5B%22x%22%5D%7D")


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(tmp_path: Path) -> None:
    listed = [{"Id": f"c{i}", "Labels": {"k": "v" * i}} for i in range(20)]
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", "/v1.41/containers/json", body=listed,
                      headers={"Transfer-Encoding": "chunked"})
        api = EngineAPI(engine.host)
        assert api.call("GET", "/containers/json") == listed
        assert api.call("GET", "/containers/json") == listed
        assert engine.connections == 1


def test_a_connection_the_engine_closed_is_opened_again(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", "/v1.41/info", body={"ok": 1})
        engine.close_after_answer = True
        api = EngineAPI(engine.host)
        assert [api.call("GET", "/info") for _ in range(3)] == [{"ok": 1}] * 3
        assert engine.connections == 3


def test_a_stop_may_take_its_grace_period_on_top_of_the_timeout(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        engine.answer("POST", "/v1.41/containers/x/stop", status=204)
        engine.delays[("POST", "/v1.41/containers/x/stop")] = 0.5
        api = EngineAPI(engine.host, timeout=0.2)
        assert api.status("POST", "/containers/x/stop", wait=2.0) == 204
        with pytest.raises(EngineTimeout):
            api.status("POST", "/containers/x/stop")


def test_an_error_status_carries_the_engines_message(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        engine.answer("POST", "/v1.41/containers/create", status=409,
                      body={"message": "Conflict. The name is in use"})
        with pytest.raises(EngineHTTPError) as caught:
            EngineAPI(engine.host).call("POST", "/containers/create", {"name": "x"}, {})
    assert (caught.value.status, caught.value.message) == (409, "Conflict. The name is in use")
    assert engine.requests[-1] == ("POST", "/v1.41/containers/create?name=x", {})


@pytest.mark.parametrize(("raised", "expected"), [
    (EngineHTTPError(404, "No such container: x"), NotFound),
    (EngineHTTPError(409, "conflict"), DriverError),
    (docker.errors.NotFound("gone", response=_Response()), NotFound),
    (docker.errors.APIError("conflict", response=_Response()), DriverError),
])
def test_engine_errors_become_ours(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, client.engine_errors("shop-web"):
        raise raised
    assert str(caught.value).startswith("shop-web: ")


def test_image_errors_and_lost_connections() -> None:
    with pytest.raises(ImageError), client.engine_errors("base", image=True):
        raise EngineHTTPError(500, "pull access denied")
    with pytest.raises(ImageError), client.engine_errors("base", image=True):
        raise docker.errors.APIError("pull access denied", response=_Response())
    with pytest.raises(client.EngineUnavailable, match=r"unix:///e\.sock"), \
            client.engine_errors("shop-web", host="unix:///e.sock"):
        raise EngineConnectionError(ConnectionRefusedError(111, "refused"))
    with pytest.raises(client.EngineUnavailable, match=r"unix:///e\.sock"), \
            client.engine_errors("shop-web", host="unix:///e.sock"):
        raise requests.exceptions.ConnectionError("refused")
    with pytest.raises(DriverError, match="did not answer"), client.engine_errors("shop-web"):
        raise EngineTimeout("/containers/json")
    with pytest.raises(DriverError, match="did not answer"), client.engine_errors("shop-web"):
        raise requests.exceptions.ReadTimeout("slow")


def test_a_bug_inside_is_not_disguised_as_an_engine_error() -> None:
    with pytest.raises(KeyError), client.engine_errors("shop-web"):
        raise KeyError("Id")


def test_the_sdk_client_is_made_for_the_engine_without_negotiating(tmp_path: Path) -> None:
    sdk = client.sdk(f"unix://{tmp_path}/engine.sock")
    assert sdk.api_version == "1.41"
    assert isinstance(sdk, docker.APIClient)


def test_many_gets_are_in_flight_at_once_and_answered_in_order(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        for i in range(6):
            engine.answer("GET", f"/v1.41/containers/c{i}/json", body={"Id": f"c{i}"},
                          headers={"Transfer-Encoding": "chunked"} if i % 2 else None)
            engine.delays[("GET", f"/v1.41/containers/c{i}/json")] = 0.2
        api = EngineAPI(engine.host)
        began = time.monotonic()
        answers = api.get_many([f"/containers/c{i}/json" for i in (0, 1, 2, 9, 3, 4, 5)])
        assert time.monotonic() - began < 0.8  # seven answers of 0.2 s side by side
        assert answers[3] == (404, "no such thing: /v1.41/containers/c9/json")
        assert [a for a in answers if a[0] == 200] == [
            (200, {"Id": f"c{i}"}) for i in range(6)]
        assert api.get_many(["/containers/c1/json"]) == [(200, {"Id": "c1"})]
        assert engine.connections <= 7  # the second call on a kept-alive one


def test_many_gets_open_again_a_connection_the_engine_closed(tmp_path: Path) -> None:
    with fake_engine(tmp_path) as engine:
        engine.answer("GET", "/v1.41/info", body={"ok": 1})
        api = EngineAPI(engine.host)
        assert api.call("GET", "/info") == {"ok": 1}
        engine.close_after_answer = True
        assert api.get_many(["/info", "/info"]) == [(200, {"ok": 1})] * 2
        assert api.get_many(["/info"]) == [(200, {"ok": 1})]
