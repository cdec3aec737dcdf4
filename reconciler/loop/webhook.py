"""The push webhook of `reconcile sync`: a signed push event triggers a fetch at once.

Accepted signatures (the secret is the one configured at the forge):
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
- Gitea / Forgejo: `X-Gitea-Signature: <hex HMAC-SHA256 of the body>`;
- GitLab: `X-Gitlab-Token: <the secret itself>`.
Every comparison is constant-time (hmac.compare_digest). A request without a valid one is
answered 401 and triggers nothing; a body over MAX_BODY is refused (413) unread.

The server is one thread (stdlib http.server, one request at a time, each socket with a
short timeout): a flood costs at most one request's work at a time, and the trigger only
sets a flag that the fetcher coalesces (one fetch in flight plus at most one pending).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

MAX_BODY = 1024 * 1024
SOCKET_TIMEOUT = 5.0  # seconds a client may take to send its request
PUSH_EVENTS = ("push", "Push Hook", "Tag Push Hook")


def signed(headers: Any, body: bytes, secret: bytes) -> bool:
    """Whether the request carries a valid GitHub, Gitea or GitLab signature."""
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
    github = headers.get("X-Hub-Signature-256")
    if github is not None:
        return hmac.compare_digest(github.strip().encode(), f"sha256={mac}".encode())
    gitea = headers.get("X-Gitea-Signature")
    if gitea is not None:
        return hmac.compare_digest(gitea.strip().encode(), mac.encode())
    token = headers.get("X-Gitlab-Token")
    if token is not None:
        return hmac.compare_digest(token.encode(), secret)
    return False


def event_type(headers: Any) -> str:
    for name in ("X-GitHub-Event", "X-Gitea-Event", "X-Gitlab-Event"):
        if headers.get(name):
            return str(headers[name])
    return "push"  # a signed request that does not say: take it as a push


def pushed_ref(body: bytes) -> str:
    """The `ref` of a push payload ("" when absent or not JSON)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    ref = doc.get("ref") if isinstance(doc, dict) else None
    return ref if isinstance(ref, str) else ""


def wanted(ref: str, pushed: str) -> bool:
    return not pushed or pushed in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}")


class _Server(HTTPServer):
    request_queue_size = 128  # a burst waits in the listen backlog instead of being refused


class WebhookServer:
    """Serves POSTs on (host, port); `on_push()` for each valid push of `ref`."""

    def __init__(self, host: str, port: int, secret: bytes, ref: str,
                 on_push: Callable[[], None],
                 on_refused: Callable[[str, str], None] = lambda peer, why: None) -> None:
        self.secret, self.ref = secret, ref
        self.on_push, self.on_refused = on_push, on_refused
        self.server = _Server((host, port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook",
                                       daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            timeout = SOCKET_TIMEOUT

            def do_POST(self) -> None:  # http.server's name for the POST handler
                try:
                    status, text = hook.handle(self)
                except OSError:  # the client went away or was too slow (timeout)
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text) + 1))
                self.end_headers()
                self.wfile.write(text.encode() + b"\n")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the loop's own events say what matters

        return Handler

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, str]:
        peer = request.client_address[0]
        try:
            length = int(request.headers.get("Content-Length", ""))
        except ValueError:
            return 411, "Content-Length required"
        if length < 0 or length > MAX_BODY:
            request.close_connection = True
            return 413, f"body over {MAX_BODY} bytes"
        body = request.rfile.read(length)
        if not signed(request.headers, body, self.secret):
            self.on_refused(peer, "bad or missing signature")
            return 401, "bad or missing signature"
        kind = event_type(request.headers)
        if kind == "ping":
            return 200, "pong"
        if kind not in PUSH_EVENTS or not wanted(self.ref, pushed_ref(body)):
            return 202, f"ignored ({kind} of {pushed_ref(body) or 'no ref'})"
        self.on_push()
        return 202, "fetch queued"
