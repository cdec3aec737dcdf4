"""A Docker token server on 127.0.0.1 for a real docker-registry with `auth: token`.

The registry verifies RS256 JWTs whose `x5c` certificate chains to its `rootcertbundle`:
a key and self-signed certificate are made with the openssl CLI and every token is
signed with `openssl dgst -sha256 -sign` (no Python crypto package needed). The server
grants what a scope asks for to `user:password` (Basic auth to the realm) on repositories
under `prefix`, `pull` only to anyone else, and records the scopes asked.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SERVICE = "reconcile-test-registry"
ISSUER = "reconcile-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    root: Path
    user: str
    password: str = field(repr=False)
    prefix: str = ""  # repositories the user may push to ("" = all)
    scopes_asked: list[list[str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def registry_config(self) -> str:
        """The `auth:` section of the registry's config.yml."""
        return (f"auth:\n  token: {{realm: '{self.realm}', service: {SERVICE}, "
                f"issuer: {ISSUER}, rootcertbundle: '{self.root / 'cert.pem'}'}}\n")

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=token", "-keyout", str(self.root / "key.pem"),
                        "-out", str(self.root / "cert.pem")], check=True,
                       capture_output=True)  # fmt: skip
        der = subprocess.run(["openssl", "x509", "-in", str(self.root / "cert.pem"), "-outform",
                              "DER"], check=True, capture_output=True).stdout  # fmt: skip
        self._x5c = base64.b64encode(der).decode()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        self.scopes_asked.append(scopes)
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        authenticated = handler.headers.get("Authorization") == expected
        if handler.headers.get("Authorization") and not authenticated:
            handler.send_response(401)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        access = [self._grant(scope, authenticated) for scope in scopes]
        body = json.dumps({"token": self._token([a for a in access if a]),
                           "expires_in": 300}).encode()  # fmt: skip
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _grant(self, scope: str, authenticated: bool) -> dict[str, object] | None:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind != "repository" or not name:
            return None
        allowed = [a for a in actions.split(",") if a == "pull" or (
            authenticated and a in ("push", "delete") and name.startswith(self.prefix))]
        return {"type": "repository", "name": name, "actions": allowed}

    def _token(self, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": self.user, "aud": SERVICE, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": f"t{now}{len(self.scopes_asked)}",
                  "access": access}  # fmt: skip
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                                    str(self.root / "key.pem")], input=signing.encode(),
                                   check=True, capture_output=True).stdout  # fmt: skip
        return f"{signing}.{_b64url(signature)}"
