"""Visit logistics: asked on the booking page, stored on the booking, shown to the venue's staff on the
slot's list and to the teacher on the pass; no pupils' names anywhere."""

from __future__ import annotations

import httpx

from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

DETAILS = {
    "lead_teacher_name": "林老师",
    "lead_teacher_phone": "138 0592 1234",
    "buses": 2,
    "arrival_time": "09:15",
    "lunch_space": True,
    "accessibility": "一名学生使用轮椅",
    "special_requests": "希望安排讲解员",
}


async def test_logistics_through_the_api(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    r = await w.book(slot["id"], 30, 2, **DETAILS)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in DETAILS} == DETAILS
    staff_view = (await w.get("staff_a", f"/api/v1/bookings/{r.json()['id']}")).json()
    assert {k: staff_view[k] for k in DETAILS} == DETAILS
    # Without them a booking is as before (api.md's body is enough).
    bare = (await w.book(slot["id"], 10, 1)).json()
    assert bare["buses"] is None and bare["arrival_time"] == "" and bare["lunch_space"] is False


async def test_logistics_on_the_pages(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/slots/{slot['id']}/book")
    assert 'name="lead_teacher_phone"' in page.text and 'name="lunch_space"' in page.text
    form = {
        **{k: str(v) for k, v in DETAILS.items()},
        "lunch_space": "true",
        "students": "30",
        "chaperones": "2",
    }
    r = await s.post(f"/slots/{slot['id']}/book", {**form, "arrival_time": "25:00"})
    assert r.status_code == 400
    r = await s.post(f"/slots/{slot['id']}/book", {**form, "buses": "", "arrival_time": ""})
    assert r.status_code == 303
    pass_page = await s.follow(await s.post(f"/slots/{slot['id']}/book", form))
    assert "林老师" in pass_page.text and "需要午餐用餐场地" in pass_page.text and "09:15" in pass_page.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        staff = PageSession(c2)
        await staff.sign_in("staff_a", PASSWORD)
        listing = await staff.get(f"/slots/{slot['id']}")
        assert listing.status_code == 200
        for text in ("林老师", "138 0592 1234", "一名学生使用轮椅", "希望安排讲解员", "大巴数量", "09:15"):
            assert text in listing.text, text
        assert "&lt;dt" not in listing.text
