"""An idle zygote removes its socket when it retires, also when its state dir was removed
under it (a test's temporary folder, a user's `rm -rf`): it used to die opening the lock
file there and leave its socket in /run/reconcile for good."""

from __future__ import annotations

import socket
from pathlib import Path

from reconciler.drivers.native.container.zygote import try_retire


def _listening(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    return listener


def test_retiring_removes_the_socket_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "monitor.sock"
    listener = _listening(path)
    assert try_retire(listener, str(path), str(tmp_path / "monitor.lock"))
    assert not path.exists() and listener.fileno() == -1


def test_retiring_without_a_state_dir_still_removes_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "monitor.sock"
    listener = _listening(path)
    assert try_retire(listener, str(path), str(tmp_path / "gone" / "monitor.lock"))
    assert not path.exists() and listener.fileno() == -1


def test_a_queued_request_keeps_the_zygote_serving(tmp_path: Path) -> None:
    path = tmp_path / "monitor.sock"
    listener = _listening(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(path))
        assert not try_retire(listener, str(path), str(tmp_path / "monitor.lock"))
    assert path.exists()
    listener.close()
