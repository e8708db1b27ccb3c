"""Strike sanctions: a warning at KEPU_STRIKE_WARN_AT strikes, a booking restriction at
KEPU_STRIKE_RESTRICT_AT for KEPU_STRIKE_RESTRICT_DAYS from the last strike, only strikes inside the
window counting; the refusal says until when (pages and API), staff see it (both engines)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from bookings import sanctions
from bookings.tables import Booking, Strike
from core import clock
from tests.api_support import assert_error, at, refresh_tokens
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def strike(w: World, school_id: int, when: datetime) -> None:
    slot = await w.slot(capacity=500, starts_at=at(10, days=30), ends_at=at(12, days=30))
    booking = (await w.book(slot["id"], 10, 1, who="teacher_b")).json()
    await Strike.insert(Strike(school=school_id, booking=booking["id"], kind="late_cancel", created_at=when))


async def setup(client: httpx.AsyncClient, frozen: Clock) -> tuple[World, int]:
    frozen.set(at(8))  # 2030-05-20
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(10, days=5), ends_at=at(12, days=5))
    first = (await w.book(slot["id"], 10, 1)).json()
    return w, int(first["school_id"])


async def test_thresholds_warning_restriction_and_its_end(
    client: httpx.AsyncClient, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, school = await setup(client, frozen)
    slot = await w.slot(capacity=500, starts_at=at(10, days=6), ends_at=at(12, days=6))
    # An old strike outside the 365-day window does not count.
    await strike(w, school, at(9, days=-400))
    s = await sanctions.sanction_of(school)
    assert (s.strikes, s.warned, s.restricted) == (0, False, False)
    await strike(w, school, at(9, days=-10))
    await strike(w, school, at(9, days=-3))
    s = await sanctions.sanction_of(school)
    assert (s.strikes, s.warned, s.restricted) == (2, True, False)
    assert (await w.book(slot["id"], 10, 1)).status_code == 201  # a warning only
    await strike(w, school, at(9, days=-1))  # 2030-05-19: the third strike
    s = await sanctions.sanction_of(school)
    assert s.restricted_until == (at(9, days=-1) + timedelta(days=29)).date()  # 30 days incl. 05-19
    r = await w.book(slot["id"], 10, 1, who="teacher_a2")  # every teacher of the school
    body = assert_error(r, 403)
    assert "2030-06-17" in body["detail"], body
    # Another school books as usual.
    assert (await w.book(slot["id"], 10, 1, who="teacher_b")).status_code == 201
    # The restriction ends by itself.
    frozen.set(clock.as_aware(at(0, days=28)))  # 2030-06-17: last restricted day
    await refresh_tokens(w)
    assert (await w.book(slot["id"], 10, 1)).status_code in (403,)
    frozen.set(clock.as_aware(at(0, days=29)))  # 2030-06-18
    await refresh_tokens(w)
    later = await w.slot(capacity=100, starts_at=at(10, days=40), ends_at=at(12, days=40))
    assert (await w.book(later["id"], 10, 1)).status_code == 201
    # Thresholds are settings.
    monkeypatch.setenv("KEPU_STRIKE_RESTRICT_AT", "5")
    monkeypatch.setenv("KEPU_STRIKE_RESTRICT_DAYS", "60")
    s = await sanctions.sanction_of(school)
    assert (s.strikes, s.restricted) == (3, False)
    monkeypatch.setenv("KEPU_STRIKE_RESTRICT_AT", "3")
    s = await sanctions.sanction_of(school)
    assert s.restricted_until == (at(9, days=-1) + timedelta(days=59)).date()


async def test_pages_show_the_standing_and_refuse_with_a_date(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w, school = await setup(client, frozen)
    slot = await w.slot(capacity=500, starts_at=at(10, days=6), ends_at=at(12, days=6))
    await strike(w, school, at(9, days=-10))
    await strike(w, school, at(9, days=-5))
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get("/bookings")
    assert page.text.count('data-testid="sanction"') == 1 and "2030-06-" not in page.text
    await strike(w, school, at(9, days=-2))
    for url in ("/bookings", f"/slots/{slot['id']}/book"):
        page = await s.get(url)
        assert 'data-testid="sanction"' in page.text and "2030-06-16" in page.text, url
    before = await Booking.count()
    r = await s.post(f"/slots/{slot['id']}/book", {"students": "10", "chaperones": "1"})
    assert r.status_code == 409 and "2030-06-16" in r.text
    assert await Booking.count() == before
    # The venue's staff see the school's sanction in the request queue.
    await w.client.patch(
        f"/api/v1/venues/{w.venue_a}", json={"approval_mode": "request"}, headers=w.h["staff_a"]
    )
    other = await w.slot(capacity=100, starts_at=at(10, days=7), ends_at=at(12, days=7))
    assert (await w.book(other["id"], 10, 1, who="teacher_b")).json()["status"] == "requested"
    booking = await Booking.select(Booking.id).where(Booking.school == school).first()
    assert booking is not None
    await Booking.update({Booking.status: "requested"}).where(Booking.id == booking["id"])
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        staff = PageSession(c2)
        await staff.sign_in("staff_a", PASSWORD)
        page = await staff.get("/staff/requests")
        assert f'data-testid="request-sanction-{booking["id"]}"' in page.text and "2030-06-16" in page.text
