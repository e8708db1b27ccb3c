"""Uploads far over a route's body limit get a page (or JSON) that says the limit, not Litestar's bare 413."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx

from registry import imports
from registry.tables import ImportJob
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues import programmes
from venues.programme_pages import UPLOAD_BODY_LIMIT
from venues.tables import ProgrammeFile


async def _session(client: httpx.AsyncClient, who: str) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(who, PASSWORD)
    return s


async def _programme(s: PageSession, venue_id: int) -> int:
    r = await s.post(
        f"/venues/{venue_id}/programmes/new", {"title": "海洋生物探秘", "description": "认识海洋"}
    )
    assert r.status_code == 303, r.text[:500]
    m = re.search(r"/programmes/(\d+)$", r.headers["location"])
    assert m is not None
    return int(m.group(1))


async def test_programme_photo_far_over_the_limit_gets_a_page_with_the_limit(
    client: httpx.AsyncClient,
) -> None:
    w = await World(client).build()
    s = await _session(client, "staff_a")
    pid = await _programme(s, w.venue_a)
    url = f"/venues/{w.venue_a}/programmes/{pid}/files"
    await s.get(f"/venues/{w.venue_a}/programmes/{pid}")
    big = b"\xff\xd8" + b"0" * (UPLOAD_BODY_LIMIT + 1024 * 1024)
    r = await s.client.post(
        url,
        data={"kind": "photo", "_csrf_token": s.csrf},
        files={"file": ("big.jpg", big, "image/jpeg")},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    limit_mb = programmes.MATERIAL_MAX_BYTES // (1024 * 1024)
    assert f"{limit_mb} MB" in r.text  # the limit people know (10 MB), not the body limit (11 MB)
    assert "12 MB" in r.text  # how big the upload was
    assert "Request Entity Too Large" not in r.text
    assert 'class="topbar"' in r.text  # kepu's own error page, with the menu
    assert await ProgrammeFile.count() == 0
    # A client that asks for JSON gets api.md's body.
    r = await s.client.post(
        url,
        data={"kind": "photo", "_csrf_token": s.csrf},
        files={"file": ("big.jpg", big, "image/jpeg")},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 413
    body = r.json()
    assert body["status_code"] == 413 and body["code"] == "too_large"
    assert body["limit_bytes"] == programmes.MATERIAL_MAX_BYTES
    assert f"{limit_mb} MB" in body["detail"]


async def test_base_import_far_over_the_limit_says_the_limit(client: httpx.AsyncClient) -> None:
    await World(client).build()
    s = await _session(client, "auditor")
    await s.get("/audit/bases/import")
    big = b"name,district\n" + b"x" * (imports.MAX_BYTES + 200_000)
    r = await s.client.post(
        "/audit/bases/import",
        files={"file": ("bases.csv", big, "text/csv")},
        data={"_csrf_token": s.csrf},
        headers={"x-csrftoken": s.csrf},
    )
    assert r.status_code == 413
    assert f"{imports.MAX_BYTES // (1024 * 1024)} MB" in r.text
    assert "Request Entity Too Large" not in r.text
    assert await ImportJob.count() == 0

    # Streamed without a Content-Length: the limit is found while reading, and still named.
    boundary = "kepu-test-boundary"

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        for _ in range(7):
            yield b"y" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await s.client.post(
        "/audit/bases/import",
        content=chunks(),
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            "x-csrftoken": s.csrf,
            "accept": "application/json",
        },
    )
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"
    assert f"{imports.MAX_BYTES // (1024 * 1024)} MB" in r.json()["detail"]
    assert await ImportJob.count() == 0


async def test_a_small_upload_still_reaches_the_form(client: httpx.AsyncClient) -> None:
    """The handler only changes bodies over the limit: a file within it meets the form's own checks."""
    await World(client).build()
    s = await _session(client, "auditor")
    await s.get("/audit/bases/import")
    r = await s.client.post(
        "/audit/bases/import",
        files={"file": ("bases.csv", b"", "text/csv")},
        data={"_csrf_token": s.csrf},
        headers={"x-csrftoken": s.csrf},
    )
    assert r.status_code != 413 and r.status_code < 500
