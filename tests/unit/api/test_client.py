"""Where the CLI finds a loop, and which --host URLs it accepts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from reconciler.api.client import ApiClient
from reconciler.cli.remote import answers, default_socket
from reconciler.model.errors import ReconcileError


def test_the_default_socket_follows_the_state_dir(tmp_path: Path) -> None:
    assert default_socket(Path("/var/lib/reconcile")) == Path("/run/reconcile/api.sock")
    assert default_socket(tmp_path / "state") == tmp_path / "state" / "api.sock"


def test_only_a_listening_socket_answers(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    assert not answers(path)  # missing
    path.write_text("")
    assert not answers(path)  # a file, not a socket
    path.unlink()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    assert not answers(path)  # bound, not listening: a dead loop's leftover
    listener.listen()
    assert answers(path)
    listener.close()


def test_host_urls() -> None:
    assert ApiClient("unix:///run/reconcile/api.sock").target == "/run/reconcile/api.sock"
    assert ApiClient("http://127.0.0.1:7780").target == "127.0.0.1:7780"
    assert ApiClient("https://box.example:7780").target == "box.example:7780"
    with pytest.raises(ReconcileError, match="only to a loopback"):
        ApiClient("http://box.example:7780")
    for bad in ("tcp://1.2.3.4:1", "box:7780", "https://"):
        with pytest.raises(ReconcileError, match="expected unix"):
            ApiClient(bad)


def test_a_loop_that_is_gone_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReconcileError, match="did not answer"):
        ApiClient(f"unix://{tmp_path}/none.sock").call("GET", "/v1/version")
