"""The docker driver's edge: engine errors become the project's own, with messages that
say what was tried and what to do."""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
import pytest
import requests

from reconciler.drivers.docker import client
from reconciler.model.errors import DriverError, ImageError, NotFound


class _Response:
    status_code = 404
    reason = "Not Found"
    url = "http://engine/containers/x/json"

    def json(self) -> dict[str, Any]:
        return {"message": "No such container: x"}


def _raise(exc: BaseException) -> None:
    raise exc


def test_an_unreachable_engine_names_the_host_and_how_to_start_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/missing.sock")
    monkeypatch.setattr(docker, "APIClient", lambda **_: _raise(docker.errors.DockerException(
        "Error while fetching server API version: FileNotFoundError(2)")))
    with pytest.raises(client.EngineUnavailable) as caught:
        client.connect()
    assert "unix:///run/missing.sock (DOCKER_HOST)" in str(caught.value)
    assert "dockerd" in str(caught.value)


def test_permission_denied_on_the_socket_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(docker, "APIClient", lambda **_: _raise(docker.errors.DockerException(
        "('Connection aborted.', PermissionError(13, 'Permission denied'))")))
    with pytest.raises(client.EngineUnavailable) as caught:
        client.connect()
    text = str(caught.value)
    assert "permission denied" in text and client.DEFAULT_HOST in text and "docker` group" in text


def test_an_engine_too_old_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Old:
        api_version = "1.30"

    monkeypatch.setattr(docker, "APIClient", lambda **_: Old())
    with pytest.raises(client.EngineUnavailable, match=r"API 1\.30; reconcile needs 1\.41"):
        client.connect("unix:///x.sock")


@pytest.mark.parametrize(("raised", "expected"), [
    (docker.errors.NotFound("gone", response=_Response()), NotFound),
    (docker.errors.APIError("conflict", response=_Response()), DriverError),
])
def test_engine_errors_become_ours(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, client.engine_errors("shop-web"):
        raise raised
    assert str(caught.value).startswith("shop-web: ")


def test_image_errors_and_lost_connections() -> None:
    with pytest.raises(ImageError), client.engine_errors("base", image=True):
        raise docker.errors.APIError("pull access denied", response=_Response())
    with pytest.raises(client.EngineUnavailable, match=r"unix:///e\.sock"), \
            client.engine_errors("shop-web", host="unix:///e.sock"):
        raise requests.exceptions.ConnectionError("refused")
    with pytest.raises(DriverError, match="did not answer"), client.engine_errors("shop-web"):
        raise requests.exceptions.ReadTimeout("slow")
