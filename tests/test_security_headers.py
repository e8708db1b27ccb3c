"""Every response carries the security headers — pages, API, static files, errors — and the scan page
keeps its own stricter policy with the camera allowed."""

from __future__ import annotations

import httpx
import pytest

from kepu.security import HEADERS
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


def _check(r: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (r.request.url, name, r.headers.get(name))


@pytest.mark.parametrize(
    "path",
    ["/login", "/healthz", "/api/v1/venues", "/static/css/kepu.css", "/no/such/page", "/privacy"],
)
async def test_every_kind_of_response_has_them(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code in (200, 401, 404), r.status_code
    _check(r)


async def test_the_scan_page_keeps_its_own_policy(client: httpx.AsyncClient) -> None:
    await World(client).build()
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    r = await page.get("/staff/scan")
    assert r.status_code == 200
    assert "'wasm-unsafe-eval'" in r.headers["content-security-policy"]
    # Its own, not ours beside it (a browser enforces every policy it is sent).
    assert len(r.headers.get_list("content-security-policy")) == 1
    assert r.headers.get_list("permissions-policy") == ["camera=(self)"]
    assert r.headers["permissions-policy"] == "camera=(self)"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_the_api_reference_may_load_its_viewer(client: httpx.AsyncClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200 and "content-security-policy" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
