"""Tokens compared in constant time, token files checked, CSRF rules on state changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.api.auth import bearer_ok, csrf_refusal, host_names, is_loopback, read_token
from reconciler.api.server import ServeConfig, check_config, parse_listen
from reconciler.model.errors import ReconcileError

TOKEN = "0123456789abcdef0123"


def test_bearer_token() -> None:
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN)
    assert bearer_ok(f"bearer {TOKEN}", TOKEN)
    assert not bearer_ok(None, TOKEN)
    assert not bearer_ok("", TOKEN)
    assert not bearer_ok(f"Basic {TOKEN}", TOKEN)
    assert not bearer_ok(f"Bearer {TOKEN}x", TOKEN)
    assert not bearer_ok(f"Bearer {TOKEN[:-1]}", TOKEN)
    assert not bearer_ok("Bearer ", TOKEN)


def test_token_file(tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    good.chmod(0o600)
    assert read_token(good) == TOKEN
    good.chmod(0o644)
    with pytest.raises(ReconcileError, match="readable by everyone"):
        read_token(good)
    short = tmp_path / "short"
    short.write_text("abc")
    short.chmod(0o600)
    with pytest.raises(ReconcileError, match="at least 16"):
        read_token(short)
    with pytest.raises(ReconcileError, match="cannot read"):
        read_token(tmp_path / "missing")


def test_loopback_and_host_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]")
    assert is_loopback("localhost") and not is_loopback("10.0.0.1")
    assert not is_loopback("example.org")
    assert host_names("127.0.0.1", 7780) >= {"127.0.0.1:7780", "localhost:7780", "[::1]:7780"}
    assert host_names("10.1.2.3", 443) == frozenset({"10.1.2.3:443"})


HOSTS = frozenset({"127.0.0.1:7780", "localhost:7780"})


def test_reads_are_never_refused_for_csrf() -> None:
    assert csrf_refusal("GET", {"host": "evil:80", "origin": "http://evil"}, HOSTS) is None


def test_a_post_needs_our_host_and_no_foreign_origin() -> None:
    assert csrf_refusal("POST", {"host": "127.0.0.1:7780"}, HOSTS) is None
    assert csrf_refusal("POST", {"host": "localhost:7780",
                                 "origin": "http://localhost:7780"}, HOSTS) is None
    assert "Host" in (csrf_refusal("POST", {"host": "evil.example:7780"}, HOSTS) or "")
    assert "Host" in (csrf_refusal("POST", {}, HOSTS) or "")
    assert "foreign Origin" in (csrf_refusal("POST", {"host": "127.0.0.1:7780",
                                                      "origin": "http://evil.example"},
                                             HOSTS) or "")
    assert "opaque" in (csrf_refusal("POST", {"host": "127.0.0.1:7780", "origin": "null"},
                                     HOSTS) or "")


def test_on_the_unix_socket_any_host_but_the_origin_must_match_it() -> None:
    assert csrf_refusal("POST", {"host": "localhost"}, None) is None
    assert csrf_refusal("POST", {"host": "localhost", "origin": "http://localhost"},
                        None) is None
    assert csrf_refusal("POST", {"host": "localhost", "origin": "http://evil"}, None)


def test_unsafe_listeners_are_refused_before_binding(tmp_path: Path) -> None:
    with pytest.raises(ReconcileError, match="needs --token-file"):
        check_config(ServeConfig(listen=("127.0.0.1", 7780)))
    with pytest.raises(ReconcileError, match="needs TLS"):
        check_config(ServeConfig(listen=("0.0.0.0", 7780), token=TOKEN))
    with pytest.raises(ReconcileError, match="go together"):
        check_config(ServeConfig(listen=("0.0.0.0", 7780), token=TOKEN,
                                 tls_cert=tmp_path / "c"))
    check_config(ServeConfig(listen=("::1", 7780), token=TOKEN))
    check_config(ServeConfig(listen=("10.0.0.1", 7780), token=TOKEN, tls_cert=tmp_path / "c",
                             tls_key=tmp_path / "k"))


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:7780") == ("127.0.0.1", 7780)
    assert parse_listen("[::1]:7780") == ("::1", 7780)
    for bad in ("7780", "host:", ":80", "h:99999", "h:x"):
        with pytest.raises(ReconcileError, match="HOST:PORT"):
            parse_listen(bad)
