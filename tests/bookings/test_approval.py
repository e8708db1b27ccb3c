"""Request-mode venues: a booking waits as "requested" holding its places, staff of the venue approve
or decline it with a reason, and only a confirmed booking's pass admits (both engines)."""

from __future__ import annotations

import asyncio

import httpx

from tests.api_support import assert_error, at, scan
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def request_world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(at(8))
    w = await World(client).build()
    r = await w.client.patch(
        f"/api/v1/venues/{w.venue_a}", json={"approval_mode": "request"}, headers=w.h["staff_a"]
    )
    assert r.status_code == 200, r.text
    return w


async def test_a_request_holds_its_places_and_does_not_admit(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=64, starts_at=at(10), ends_at=at(12))
    r = await w.book(slot["id"], 30, 2)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "requested"
    assert (await w.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()["remaining"] == 32
    ics = (await w.get("teacher_a", f"/api/v1/bookings/{booking['id']}/calendar.ics")).text
    assert "STATUS:TENTATIVE" in ics and "VALARM" not in ics
    frozen.set(at(10, 5))
    outcome = await scan(w, "staff_a", booking["qr_token"])
    assert outcome.json()["result"] == "not_confirmed"
    # Another venue's bookings stay confirmed at once: the rule is per venue.
    other = await w.slot(capacity=50, venue="b", starts_at=at(10, days=2), ends_at=at(12, days=2))
    assert (await w.book(other["id"], 20, 1)).json()["status"] == "confirmed"


async def test_staff_approve_and_the_pass_admits(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=64, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(slot["id"], 30, 2)).json()
    url = f"/api/v1/bookings/{booking['id']}/approve"
    assert_error(await w.post("teacher_a", url), 403)
    assert_error(await w.post("staff_b", url), 404)
    r = await w.post("staff_a", url)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert "不在待审核状态" in assert_error(await w.post("staff_a", url), 409)["detail"]
    assert (await w.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()["remaining"] == 32
    frozen.set(at(10, 5))
    assert (await scan(w, "staff_a", booking["qr_token"])).json()["result"] == "admitted"


async def test_staff_decline_with_a_reason_and_the_places_return(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=64, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 30, 2)).json()
    url = f"/api/v1/bookings/{booking['id']}/decline"
    assert_error(await w.post("staff_a", url, {"reason": "  "}), 400)
    r = await w.post("staff_a", url, {"reason": "当天有大型活动，无法接待"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined" and r.json()["decline_reason"] == "当天有大型活动，无法接待"
    ics = (await w.get("teacher_a", f"/api/v1/bookings/{booking['id']}/calendar.ics")).text
    assert "STATUS:CANCELLED" in ics
    assert (await w.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()["remaining"] == 64
    assert_error(await w.post("staff_a", f"/api/v1/bookings/{booking['id']}/approve"), 409)
    assert (
        "场馆已拒绝此预约"
        in assert_error(await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel"), 409)["detail"]
    )
    # Cancelling a request returns its places too.
    again = (await w.book(slot["id"], 30, 2)).json()
    assert (await w.post("teacher_a", f"/api/v1/bookings/{again['id']}/cancel")).json()[
        "status"
    ] == "cancelled"
    assert (await w.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()["remaining"] == 64


async def test_requests_cannot_oversell_and_one_decision_wins(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=64, starts_at=at(10, days=3), ends_at=at(12, days=3))
    made = await asyncio.gather(*[w.book(slot["id"], 30, 2, who="teacher_b") for _ in range(5)])
    assert sorted(r.status_code for r in made) == [201, 201, 409, 409, 409]
    ids = [r.json()["id"] for r in made if r.status_code == 201]
    # Approve and decline the same request at once: exactly one of them happens.
    decided = await asyncio.gather(
        w.post("staff_a", f"/api/v1/bookings/{ids[0]}/approve"),
        w.post("staff_a", f"/api/v1/bookings/{ids[0]}/decline", {"reason": "名额调整"}),
    )
    assert sorted(r.status_code for r in decided) == [200, 409]
    final = (await w.get("staff_a", f"/api/v1/bookings/{ids[0]}")).json()["status"]
    booked = (await w.get("staff_a", f"/api/v1/slots/{slot['id']}")).json()["booked"]
    assert booked == (64 if final == "confirmed" else 32)


async def test_request_queue_page_and_the_teachers_pass(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    first = (await w.book(slot["id"], 30, 2, class_name="四年级2班", grade_band="primary_high")).json()
    second = (await w.book(slot["id"], 20, 1, who="teacher_b")).json()
    teacher = PageSession(client)
    await teacher.sign_in("teacher_a", PASSWORD)
    pass_page = await teacher.get(f"/bookings/{first['id']}")
    assert "待审核" in pass_page.text and 'data-testid="pass-code"' not in pass_page.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        staff = PageSession(c2)
        await staff.sign_in("staff_a", PASSWORD)
        queue = await staff.get("/staff/requests")
        assert queue.status_code == 200
        assert "厦门市第一中学" in queue.text and "四年级2班" in queue.text and "小学高段" in queue.text
        assert "已参观 0 次，取消 0 次，被拒 0 次" in queue.text
        assert 'href="/staff/requests"' in queue.text  # in the staff menu
        r = await staff.post(f"/staff/requests/{second['id']}/decline", {"reason": ""})
        assert r.status_code == 400 and "请填写" in r.text
        page = await staff.follow(
            await staff.post(f"/staff/requests/{second['id']}/decline", {"reason": "人数不符"})
        )
        assert "已拒绝" in page.text
        page = await staff.follow(await staff.post(f"/staff/requests/{first['id']}/approve"))
        assert "已通过" in page.text and "暂无待审核的预约" in page.text
        r = await staff.post(f"/staff/requests/{first['id']}/approve")
        assert "不在待审核状态" in (await staff.follow(r)).text
    pass_page = await teacher.get(f"/bookings/{first['id']}")
    assert 'data-testid="pass-code"' in pass_page.text
    declined = await PageSession(client).get(f"/bookings/{second['id']}")
    assert declined.status_code == 404  # teacher_a cannot see teacher_b's booking
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c3:
        other = PageSession(c3)
        await other.sign_in("teacher_b", PASSWORD)
        page = await other.get(f"/bookings/{second['id']}")
        assert "场馆已拒绝此预约申请：人数不符" in page.text


async def test_booking_a_request_venue_on_the_page(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await request_world(client, frozen)
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/slots/{slot['id']}/book")
    assert "每个预约需场馆工作人员审核" in page.text
    done = await s.follow(await s.post(f"/slots/{slot['id']}/book", {"students": "30", "chaperones": "2"}))
    assert "预约申请已提交" in done.text and "待审核" in done.text
