"""The teacher's waiting-list pages: join from a full slot (or a refusal for lack of room), see the
place in the queue, accept or decline an offer, leave (both engines)."""

from __future__ import annotations

import httpx

from bookings.tables import WaitlistEntry
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user
from tests.pages.browser_session import PageSession


async def test_join_accept_decline_leave(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    await make_user("teacher_c", "teacher", school="湖里实验小学", district="湖里区")
    slot = await w.slot(capacity=40, starts_at=at(10, days=5), ends_at=at(12, days=5))
    full = (await w.book(slot["id"], 36, 4, who="teacher_b")).json()
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/slots/{slot['id']}/book")
    assert f'href="/slots/{slot["id"]}/waitlist"' in page.text
    # A refused booking offers the list with the numbers entered.
    r = await s.post(f"/slots/{slot['id']}/book", {"students": "28", "chaperones": "2"})
    assert r.status_code == 409 and f"/slots/{slot['id']}/waitlist?students=28&amp;chaperones=2" in r.text
    page = await s.get(f"/slots/{slot['id']}/waitlist?students=28&chaperones=2")
    assert page.status_code == 200 and 'value="28"' in page.text
    r = await s.post(f"/slots/{slot['id']}/waitlist", {"students": "", "chaperones": "2"})
    assert r.status_code == 400 and 'id="e-students"' in r.text
    r = await s.post(f"/slots/{slot['id']}/waitlist", {"students": "0", "chaperones": "0"})
    assert r.status_code == 409 and 'role="alert"' in r.text
    r = await s.post(
        f"/slots/{slot['id']}/waitlist", {"students": "28", "chaperones": "2", "flexibility": "slot"}
    )
    assert r.status_code == 303
    entry_url = r.headers["location"]
    page = await s.follow(r)
    assert 'data-testid="waitlist-position">1<' in page.text
    listing = await s.get("/waitlist")
    assert entry_url in listing.text
    assert 'href="/waitlist"' in (await s.get("/bookings")).text
    # The other teacher cancels: the offer appears.
    assert (await w.post("teacher_b", f"/api/v1/bookings/{full['id']}/cancel")).status_code == 200
    page = await s.get(entry_url)
    assert 'data-testid="waitlist-offer"' in page.text and "2030-05-21" in page.text  # held 24 h
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c0:
        staff = PageSession(c0)
        await staff.sign_in("staff_a", PASSWORD)
        page = await staff.get(f"/slots/{slot['id']}")
        assert 'data-testid="slot-waitlist"' in page.text and "2030-05-21" in page.text
    r = await s.post(entry_url + "/accept")
    assert r.status_code == 303 and r.headers["location"].startswith("/bookings/")
    page = await s.follow(r)
    assert 'data-testid="pass-code"' in page.text
    # Another teacher's entry is invisible; declining and leaving.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        t = PageSession(c2)
        await t.sign_in("teacher_c", PASSWORD)
        assert (await t.get(entry_url)).status_code == 404
        assert (await t.post(entry_url + "/leave")).status_code == 404
        assert (await w.book(slot["id"], 8, 1, who="teacher_b")).status_code == 201  # 39 of 40
        r = await t.post(
            f"/slots/{slot['id']}/waitlist", {"students": "9", "chaperones": "1", "flexibility": "day"}
        )
        assert r.status_code == 303
        mine = r.headers["location"]
        r = await t.post(mine + "/decline")  # nothing offered yet
        page = await t.follow(r)
        assert "flash-error" in page.text
        r = await t.post(mine + "/leave")
        await t.follow(r)
    rows = await WaitlistEntry.select(WaitlistEntry.status).order_by(WaitlistEntry.id)
    assert [r["status"] for r in rows] == ["booked", "left"]
