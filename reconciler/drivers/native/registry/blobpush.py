"""One blob into a registry, as the OCI distribution spec has it.

1. `HEAD /v2/<name>/blobs/<digest>`: 200 means the registry has it here; nothing to send.
2. With a repository on the same registry known to have it:
   `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`; 201 means mounted (no
   bytes sent). A 202 is a registry declining the mount: it opened an upload instead.
3. Otherwise `POST /v2/<name>/blobs/uploads/` opens an upload (202 + Location).
   A blob up to `CHUNK` bytes goes in one `PUT <location>?digest=` with the body; a larger
   one in `PATCH` chunks of `CHUNK` bytes (`Content-Range: start-end`), each answer giving
   the next Location and the `Range` received so far, then an empty `PUT ?digest=`.

Retries: a reset connection or a 5xx/429 is tried again, up to `ATTEMPTS` times a blob.
During a chunked upload the registry is first asked how much it holds (`GET <location>`,
204 + `Range`) and the upload resumes there; an upload it no longer knows is cancelled
(`DELETE`) and started over. An upload given up is cancelled too, so no session is left.
The digest the registry reports (`Docker-Content-Digest`) must be ours.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from reconciler.drivers.native.registry.client import RegistryError
from reconciler.drivers.native.registry.transfer import MAX_SMALL, Body
from reconciler.drivers.native.registry.upload import (
    TRANSIENT_STATUSES,
    FileRegion,
    PushClient,
    Transient,
)
from reconciler.model.records import record

CHUNK = 16 << 20  # bytes per PATCH; blobs up to this size go in one PUT
ATTEMPTS = 4  # tries per blob (resumes count) before the push fails
BACKOFF = 0.5  # seconds before the first retry, doubled after each
OCTETS = {"Content-Type": "application/octet-stream"}
Report = Callable[[int], None]  # bytes of this blob the registry has so far


@record(frozen=True)
class Blob:
    digest: str
    size: int
    path: Path  # where the store keeps it
    kind: str = "layer"  # "layer" | "config": for messages

    @property
    def what(self) -> str:
        return f"{self.kind} {self.digest[:19]}"


def push_blob(client: PushClient, blob: Blob, mount_from: str, report: Report) -> str:
    """Make the registry hold `blob` in the client's repository: "exists", "mounted" or
    "uploaded"."""
    if blob_exists(client, blob):
        report(blob.size)
        return "exists"
    delay = BACKOFF
    session = Session()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            session.location, mounted = start_upload(client, blob,
                                                     mount_from if attempt == 1 else "")
            if mounted:
                report(blob.size)
                return "mounted"
            _upload(client, blob, session, report, ATTEMPTS - attempt)
            return "uploaded"
        except Transient:
            last = attempt == ATTEMPTS or bool(client.watchdog.reason)
            if not last:  # first: the registry may still be busy with the broken request
                time.sleep(delay)
                delay *= 2
            cancel_upload(client, session.location)
            session.location = ""
            if last:
                raise
        except BaseException:
            cancel_upload(client, session.location)
            raise
    raise AssertionError("unreachable")


@record
class Session:
    """The upload's newest Location: a registry may refuse every older one."""

    location: str = ""


def blob_exists(client: PushClient, blob: Blob) -> bool:
    response = client.send("HEAD", f"/v2/{client.repository}/blobs/{blob.digest}",
                           what=f"the existence check of {blob.what}")  # fmt: skip
    status = response.status
    client.release(response)
    if status in (200, 307):  # a redirect to blob storage: it is there
        return True
    if status == 404:
        return False
    raise failure(client, status, f"the existence check of {blob.what}")


def start_upload(client: PushClient, blob: Blob, mount_from: str) -> tuple[str, bool]:
    """(upload location, mounted): a mount when the registry accepts it, else an upload."""
    path = f"/v2/{client.repository}/blobs/uploads/"
    if mount_from:
        path += f"?mount={blob.digest}&from={quote(mount_from, safe='/')}"
    response = client.send("POST", path, what=f"the upload of {blob.what}")
    status, location = response.status, response.getheader("Location") or ""
    detail = answer_detail(client, response)
    if status == 201 and mount_from:
        return "", True
    if status != 202:
        raise failure(client, status, f"the upload of {blob.what}", detail)
    if not location:
        raise RegistryError(f"registry {client.host} opened an upload without a Location")
    return client.url(location), False


def _upload(client: PushClient, blob: Blob, session: Session, report: Report,
            retries: int) -> None:  # fmt: skip
    if blob.size <= CHUNK:
        body = FileRegion(blob.path, 0, blob.size)
        _finish(client, blob, session.location, body, report)
        return
    offset = 0
    while offset < blob.size:
        end = min(offset + CHUNK, blob.size) - 1
        try:
            session.location, offset = _patch(client, blob, session.location, offset, end,
                                              report)  # fmt: skip
        except Transient:
            if retries <= 0 or client.watchdog.reason:
                raise
            retries -= 1
            time.sleep(BACKOFF)
            session.location, offset = upload_status(client, blob, session.location)
    _finish(client, blob, session.location, None, report)


def _patch(client: PushClient, blob: Blob, location: str, offset: int, end: int,
           report: Report) -> tuple[str, int]:  # fmt: skip
    """Send bytes offset..end; returns the next location and the registry's next offset."""
    headers = {**OCTETS, "Content-Range": f"{offset}-{end}"}
    response = client.send("PATCH", location, headers, FileRegion(blob.path, offset,
                           end + 1 - offset), f"{blob.what} (bytes {offset}-{end})",
                           lambda sent: report(offset + sent))  # fmt: skip
    status, next_location = response.status, response.getheader("Location") or location
    received = _range_end(response.getheader("Range"))
    detail = answer_detail(client, response)
    if status == 416:  # the registry holds a different amount: ask it, go on from there
        raise Transient(f"registry {client.host} holds another amount of {blob.what}")
    if status != 202:
        raise failure(client, status, f"{blob.what} (bytes {offset}-{end})", detail)
    next_offset = end + 1 if received is None else received + 1
    report(next_offset)
    return client.url(next_location), next_offset


def upload_status(client: PushClient, blob: Blob, location: str) -> tuple[str, int]:
    """Where an upload stands: (location, next offset). An upload the registry forgot
    (404) cannot be resumed: Transient, so it is cancelled and started again."""
    response = client.send("GET", location, what=f"the upload status of {blob.what}")
    status, next_location = response.status, response.getheader("Location") or location
    received = _range_end(response.getheader("Range"))
    detail = answer_detail(client, response)
    if status == 204:  # "0-0" is what a registry says of an empty upload (or of 1 byte)
        return client.url(next_location), received + 1 if received else 0
    if status == 404 or status in TRANSIENT_STATUSES:
        raise Transient(f"registry {client.host}: upload of {blob.what} lost (HTTP {status})")
    raise failure(client, status, f"the upload status of {blob.what}", detail)


def _finish(client: PushClient, blob: Blob, location: str, body: FileRegion | None,
            report: Report) -> None:  # fmt: skip
    url = _with_query(location, f"digest={blob.digest}")
    base = blob.size - (body.length if body else 0)
    response = client.send("PUT", url, OCTETS, body, f"{blob.what}",
                           lambda sent: report(base + sent))  # fmt: skip
    status, digest = response.status, response.getheader("Docker-Content-Digest") or ""
    detail = answer_detail(client, response)
    if status not in (201, 204):
        raise failure(client, status, f"{blob.what}", detail)
    if digest and digest != blob.digest:
        raise RegistryError(f"registry {client.host} stored {blob.what} as {digest}; refused")
    report(blob.size)


def cancel_upload(client: PushClient, location: str) -> None:
    """Best effort: the registry drops the session and what it had received."""
    if not location:
        return
    with contextlib.suppress(RegistryError):
        client.release(client.send("DELETE", location, what="an abandoned upload"))


def _with_query(url: str, query: str) -> str:
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(query=joined))


def _range_end(header: str | None) -> int | None:
    """'0-1048575' (also 'bytes=0-1048575') -> 1048575."""
    if not header:
        return None
    _, _, end = header.removeprefix("bytes=").partition("-")
    return int(end) if end.strip().isdigit() else None


def answer_detail(client: PushClient, response: Body) -> str:
    if 200 <= response.status < 300:
        client.read_body(response, MAX_SMALL, "an upload answer")
        return ""
    return client._error_detail(response)


def failure(client: PushClient, status: int, what: str, detail: str = "") -> RegistryError:
    repo = f"{client.host}/{client.repository}"
    if status == 401:
        return RegistryError(f"registry {client.host} denied the push to {repo}: "
                             f"authentication required or refused{detail}", status)  # fmt: skip
    if status == 403:
        return RegistryError(f"registry {client.host} denied the push to {repo}: "
                             f"not allowed{detail}", status)  # fmt: skip
    kind = Transient if status in TRANSIENT_STATUSES else RegistryError
    return kind(f"registry {client.host}: {what} for {repo} answered HTTP {status}{detail}",
                status)  # fmt: skip
