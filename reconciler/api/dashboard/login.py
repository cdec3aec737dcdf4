"""`GET /login`: the one page served without the token, so a browser can get it in.

A browser cannot send `Authorization: Bearer` on a page load; it can send the
`reconcile_token` cookie the API also accepts (auth.cookie_ok). This page asks for the
token and sets that cookie (SameSite=Strict, Secure over https) from its inline script,
whose hash is the only script the page's CSP allows. It holds no data of the loop: what
it shows is the same for everyone, so serving it without auth leaks nothing. The token
never goes into a URL; the form only posts (and is refused) when scripts are off.
"""

from __future__ import annotations

import base64
import hashlib

from reconciler.api.routes import Response

PATH = "/login"
SCRIPT = """
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `reconcile_token=${encodeURIComponent(token)}; Path=/; SameSite=Strict` +
    `; Max-Age=2592000${secure}`;
  location.replace("/");
});
"""
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reconcile · sign in</title><link rel="icon" href="data:,">
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f5f6f8;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1c2430}
form{background:#fff;border:1px solid #e3e7ec;border-radius:10px;padding:24px 28px;width:340px;
box-shadow:0 1px 2px rgba(0,0,0,.04)}
h1{font-size:18px;margin:0 0 4px}h1::before{content:"\\25C6  ";color:#1f9d55}
p{color:#6b7684;margin:0 0 16px}
input{width:100%;box-sizing:border-box;font:inherit;padding:8px 10px;border:1px solid #cfd6de;
border-radius:6px;margin-bottom:12px}
button{font:inherit;padding:7px 16px;border-radius:6px;border:0;background:#1f9d55;color:#fff;
cursor:pointer}
</style></head><body>
<form id="login" method="post" action="/login"><h1>reconcile</h1>
<p>The loop's API token (the content of its <code>--token-file</code>).</p>
<input id="token" type="password" autocomplete="current-password" required
 aria-label="API token" autofocus>
<button type="submit">Open the dashboard</button></form>
<script>@SCRIPT@</script></body></html>
""".replace("@SCRIPT@", SCRIPT)


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


HEADERS = {"Content-Security-Policy": _csp(), "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer"}


def login_page() -> Response:
    response = Response.text(PAGE, content_type="text/html")
    response.headers.update(HEADERS)
    return response


SIGN_IN = (b'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" '
           b'content="0; url=/login"><title>unauthorized</title><a href="/login">sign in</a>\n')


def to_login() -> Response:
    """A browser's page load of the dashboard without the token: still a 401 that says
    nothing of the loop, but a page that sends the reader to sign in."""
    return Response(401, SIGN_IN, {"Content-Type": "text/html; charset=utf-8",
                                   "WWW-Authenticate": 'Bearer realm="reconcile"', **HEADERS})
