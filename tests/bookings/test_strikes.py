"""Free cancellation until the venue's deadline; a teacher's later cancel adds a strike to the school,
which the teacher is warned about and which staff see in the request queue (both engines)."""

from __future__ import annotations

import httpx

from bookings.tables import Strike
from tests.api_support import at, refresh_tokens
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def setup(client: httpx.AsyncClient, frozen: Clock, **rules: object) -> World:
    frozen.set(at(8))  # 2030-05-20
    w = await World(client).build()
    if rules:
        r = await w.client.patch(f"/api/v1/venues/{w.venue_a}", json=rules, headers=w.h["staff_a"])
        assert r.status_code == 200, r.text
    return w


async def test_cancel_before_the_deadline_is_free_after_it_a_strike(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await setup(client, frozen, free_cancel_days=2)
    slot = await w.slot(capacity=100, starts_at=at(10, days=4), ends_at=at(12, days=4))  # 2030-05-24
    early = (await w.book(slot["id"], 30, 2)).json()
    late = (await w.book(slot["id"], 30, 2, who="teacher_a2")).json()
    assert early["free_cancel_until"] == "2030-05-22"
    assert (await w.post("teacher_a", f"/api/v1/bookings/{early['id']}/cancel")).status_code == 200
    assert await Strike.count() == 0
    frozen.set(at(9, days=3))  # 2030-05-23: past the free-cancellation day
    await refresh_tokens(w)
    r = await w.post("teacher_a2", f"/api/v1/bookings/{late['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    strikes = await Strike.select(Strike.school, Strike.booking, Strike.kind)
    assert strikes == [{"school": late["school_id"], "booking": late["id"], "kind": "late_cancel"}]
    # The venue cancelling late marks nobody.
    other = (await w.book(slot["id"], 20, 1, who="teacher_b")).json()
    assert (await w.post("staff_a", f"/api/v1/bookings/{other['id']}/cancel")).status_code == 200
    assert await Strike.count() == 1


async def test_no_deadline_no_strike(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(slot["id"], 30, 2)).json()
    assert booking["free_cancel_until"] is None
    assert (await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).status_code == 200
    assert await Strike.count() == 0


async def test_teacher_is_warned_and_staff_see_the_standing(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, free_cancel_days=2)
    slot = await w.slot(capacity=100, starts_at=at(10, days=2), ends_at=at(12, days=2))  # free until 05-20
    booking = (await w.book(slot["id"], 30, 2)).json()
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/bookings/{booking['id']}")
    assert "免责取消" in page.text and 'data-testid="late-cancel"' not in page.text
    frozen.set(at(9, days=1))
    await refresh_tokens(w)
    await s.sign_in("teacher_a", PASSWORD)  # a day later the page session has ended
    page = await s.get(f"/bookings/{booking['id']}")
    assert (
        'data-testid="late-cancel"' in page.text
        and "现在取消将给贵校记一次违约（目前已有 0 次）" in page.text
    )
    await s.follow(await s.post(f"/bookings/{booking['id']}/cancel"))
    listing = await s.get("/bookings")
    assert "贵校违约记录：1 次" in listing.text
    # The school's next request shows its strike to the venue's staff.
    await w.client.patch(
        f"/api/v1/venues/{w.venue_a}", json={"approval_mode": "request"}, headers=w.h["staff_a"]
    )
    later = await w.slot(capacity=100, starts_at=at(10, days=9), ends_at=at(12, days=9))
    assert (await w.book(later["id"], 30, 2, who="teacher_a2")).json()["status"] == "requested"
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        staff = PageSession(c2)
        await staff.sign_in("staff_a", PASSWORD)
        queue = await staff.get("/staff/requests")
        assert "1 次（逾期取消 1 次，爽约 0 次）" in queue.text
        assert "取消 1 次" in queue.text
