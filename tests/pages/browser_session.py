"""A signed-in browser session for page tests: cookies, the CSRF token from each form, redirects."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


class PageSession:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        r = await self.client.get(url, **kw)
        if m := CSRF_RE.search(r.text):
            self.csrf = m.group(1)
        return r

    async def post(self, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        if not self.csrf:
            await self.get("/login")
        r = await self.client.post(url, data={**(data or {}), "_csrf_token": self.csrf})
        if m := CSRF_RE.search(r.text):
            self.csrf = m.group(1)
        return r

    async def sign_in(self, username: str, password: str) -> httpx.Response:
        await self.get("/login")
        r = await self.post("/login", {"username": username, "password": password, "next": "/"})
        assert r.status_code == 303, r.text[:500]
        return r

    async def follow(self, r: httpx.Response) -> httpx.Response:
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        while r.status_code in (302, 303):
            r = await self.get(r.headers["location"])
        return r
