"""Helpers of the name-list tests: a world with a venue that requires lists, a booking, page sessions."""

from __future__ import annotations

from typing import Any

import httpx

from accounts.services import get_user_by_username
from privacy import namelists
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

NAMES = ["张三明", "李四", "欧阳娜娜", "王小五", "Alice Smith"]


async def page_for(client: httpx.AsyncClient, username: str) -> PageSession:
    client.cookies.clear()  # one person at a time on the shared client
    page = PageSession(client)
    await page.sign_in(username, PASSWORD)
    return page


async def upload(
    page: PageSession,
    booking_id: int,
    *,
    names: list[str] | None = None,
    file: tuple[str, bytes, str] | None = None,
    confirm: bool = True,
) -> httpx.Response:
    """POST the upload form as a browser does (multipart, with the CSRF token of the page)."""
    await page.get(f"/bookings/{booking_id}/namelist")
    data: dict[str, Any] = {"_csrf_token": page.csrf, "names": "\n".join(names or [])}
    if confirm:
        data["guardians_informed"] = "yes"
    if file is None:
        return await page.client.post(f"/bookings/{booking_id}/namelist", data=data)
    return await page.client.post(f"/bookings/{booking_id}/namelist", data=data, files={"file": file})


async def require_lists(venue_id: int) -> None:
    auditor = await get_user_by_username("auditor")
    assert auditor is not None
    await namelists.set_requirement(auditor, venue_id, True)


async def world_with_booking(
    client: httpx.AsyncClient, frozen: Clock, *, students: int = 4, chaperones: int = 1
) -> tuple[World, dict[str, Any]]:
    """Venue A requires name lists; teacher_a booked its slot on DAY+3, 10:00–12:00."""
    frozen.set(at(8))
    w = await World(client).build()
    await require_lists(w.venue_a)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    r = await w.book(slot["id"], students, chaperones)
    assert r.status_code == 201, r.text
    return w, r.json()
