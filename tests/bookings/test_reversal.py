"""A supervisor reverses an admission with a reason; the booking's check-in history is the audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bookings.tables import Booking, CheckIn
from tests.api_support import at, report_row
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user, token
from tests.pages.browser_session import PageSession


async def _scene(client: httpx.AsyncClient, frozen: Clock) -> tuple[World, dict[str, Any]]:
    """A class of 30 + 2 today at venue A, admitted 20 + 1 and then 10 + 1, plus one denied scan."""
    frozen.set(at(8))
    w = await World(client).build()
    await make_user("super_a", "staff", venue_id=w.venue_a, staff_role="supervisor")
    await make_user("super_b", "staff", venue_id=w.venue_b, staff_role="supervisor")
    w.h["super_a"] = await token(client, "super_a")
    w.h["super_b"] = await token(client, "super_b")
    slot = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(slot["id"], 30, 2)).json()
    frozen.set(at(9, 50))
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 20, "chaperones": 1}
    )
    assert r.status_code == 200, r.text
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 10, "chaperones": 1}
    )
    assert r.status_code == 200, r.text
    r = await w.post("staff_a", "/api/v1/checkins", {"token": booking["code"]})
    assert r.json()["result"] == "already_checked_in"
    return w, booking


async def _admitted(booking_id: int) -> tuple[int, int]:
    row = (
        await Booking.select(Booking.admitted_students, Booking.admitted_chaperones)
        .where(Booking.id == booking_id)
        .first()
    )
    assert row is not None
    return row["admitted_students"], row["admitted_chaperones"]


async def _ids(booking_id: int) -> list[int]:
    return [
        r["id"]
        for r in await CheckIn.select(CheckIn.id)
        .where((CheckIn.booking == booking_id) & (CheckIn.result == "admitted"))
        .order_by(CheckIn.id)
    ]


async def test_supervisor_reverses_an_admission(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen)
    first, second = await _ids(booking["id"])
    r = await w.post("super_a", f"/api/v1/checkins/{second}/reverse", {"reason": "扫错了班级"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reversed"] is True and body["reversal_reason"] == "扫错了班级"
    assert body["reversed_by_name"] == "super_a" and body["students"] == 10
    assert await _admitted(booking["id"]) == (20, 1)
    # A second reversal of the same row changes nothing.
    again = await w.post("super_a", f"/api/v1/checkins/{second}/reverse", {"reason": "again"})
    assert again.status_code == 409
    assert await _admitted(booking["id"]) == (20, 1)
    # The people given back can be admitted again.
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 10, "chaperones": 1}
    )
    assert r.json()["result"] == "admitted"
    assert await _admitted(booking["id"]) == (30, 2)
    # The list: every scan, the reversed one with who and why, the denied one with its code.
    listing = await w.get("staff_a", f"/api/v1/bookings/{booking['id']}/checkins")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [i["result"] for i in items] == ["admitted", "admitted", "already_checked_in", "admitted"]
    assert [i["reversed"] for i in items] == [False, True, False, False]
    assert items[1]["reversal_reason"] == "扫错了班级" and items[1]["reversed_by_id"] is not None
    assert (await w.get("auditor", f"/api/v1/bookings/{booking['id']}/checkins")).status_code == 200
    # The evaluation counts only what is still in (30 + 2: the reversed 10 + 1 were admitted again).
    assert first == items[0]["id"]
    assert (await report_row(w, 2030, w.venue_a))["people_admitted"] == 32
    r = await w.post("super_a", f"/api/v1/checkins/{first}/reverse", {"reason": "第一辆车重复计数"})
    assert r.status_code == 200
    assert (await report_row(w, 2030, w.venue_a))["people_admitted"] == 11


async def test_who_may_reverse(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen)
    first, _second = await _ids(booking["id"])
    url = f"/api/v1/checkins/{first}/reverse"
    body = {"reason": "测试"}
    assert (await w.post("staff_a", url, body)).status_code == 403
    assert (await w.post("super_b", url, body)).status_code == 404
    assert (await w.post("staff_b", url, body)).status_code == 404
    assert (await w.post("teacher_a", url, body)).status_code == 403
    assert (await w.post("auditor", url, body)).status_code == 403
    assert (await client.post(url, json=body)).status_code == 401
    denied = await CheckIn.select(CheckIn.id).where(CheckIn.result == "already_checked_in").first()
    assert denied is not None
    r = await w.post("super_a", f"/api/v1/checkins/{denied['id']}/reverse", body)
    assert r.status_code == 409
    assert await _admitted(booking["id"]) == (30, 2)
    # The history: staff of the venue and auditors; others are told nothing.
    list_url = f"/api/v1/bookings/{booking['id']}/checkins"
    assert (await w.get("staff_b", list_url)).status_code == 404
    assert (await w.get("teacher_a", list_url)).status_code == 403
    assert (await client.get(list_url)).status_code == 401


async def test_two_reversals_at_once_give_back_once(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen)
    first, second = await _ids(booking["id"])
    for target, expected in ((first, (10, 1)), (second, (0, 0))):
        results = await asyncio.gather(
            *[
                w.post("super_a", f"/api/v1/checkins/{target}/reverse", {"reason": f"race {n}"})
                for n in range(4)
            ]
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409, 409, 409], [r.text for r in results]
        assert await _admitted(booking["id"]) == expected
    rows = await CheckIn.select(CheckIn.reversed_at, CheckIn.reversal_reason).where(
        CheckIn.id.is_in([first, second])
    )
    assert all(r["reversed_at"] is not None and r["reversal_reason"].startswith("race") for r in rows)


async def test_counts_never_fall_below_zero(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen)
    first, _second = await _ids(booking["id"])
    await Booking.update({Booking.admitted_students: 5, Booking.admitted_chaperones: 2}).where(
        Booking.id == booking["id"]
    )
    r = await w.post("super_a", f"/api/v1/checkins/{first}/reverse", {"reason": "数据修正"})
    assert r.status_code == 200, r.text
    assert await _admitted(booking["id"]) == (0, 1)


async def test_history_page_and_reverse_form(client: httpx.AsyncClient, frozen: Clock) -> None:
    _w, booking = await _scene(client, frozen)
    first, second = await _ids(booking["id"])
    page_url = f"/staff/bookings/{booking['id']}/checkins"
    s = PageSession(client)
    await s.sign_in("super_a", PASSWORD)
    page = await s.get(page_url)
    assert page.status_code == 200
    assert "签到记录" in page.text and "already_checked_in" in page.text
    assert f'action="/staff/checkins/{second}/reverse"' in page.text
    # Linked from the slot's booking list and the roster.
    assert page_url in (await s.get(f"/slots/{booking['slot_id']}")).text
    assert page_url in (await s.get("/staff/roster")).text
    # A reason is required.
    r = await s.post(f"/staff/checkins/{second}/reverse", {"reason": "  ", "booking_id": str(booking["id"])})
    assert r.status_code == 400
    assert await _admitted(booking["id"]) == (30, 2)
    r = await s.post(
        f"/staff/checkins/{second}/reverse", {"reason": "x" * 201, "booking_id": str(booking["id"])}
    )
    assert r.status_code == 400
    r = await s.post(
        f"/staff/checkins/{second}/reverse", {"reason": "第二辆车扫了两次", "booking_id": str(booking["id"])}
    )
    after = await s.follow(r)
    assert "第二辆车扫了两次" in after.text and f'data-testid="reversed-{second}"' in after.text
    assert "super_a" in after.text
    assert await _admitted(booking["id"]) == (20, 1)
    # Twice: told, nothing changes.
    r = await s.post(
        f"/staff/checkins/{second}/reverse", {"reason": "又一次", "booking_id": str(booking["id"])}
    )
    assert r.status_code == 303
    assert "已撤销" in (await s.follow(r)).text
    assert await _admitted(booking["id"]) == (20, 1)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        door = PageSession(c2)
        await door.sign_in("staff_a", PASSWORD)
        seen = await door.get(page_url)
        assert seen.status_code == 200 and "/reverse" not in seen.text
        r = await door.post(
            f"/staff/checkins/{first}/reverse", {"reason": "门岗", "booking_id": str(booking["id"])}
        )
        assert r.status_code == 403
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c3:
        other = PageSession(c3)
        await other.sign_in("super_b", PASSWORD)
        assert (await other.get(page_url)).status_code == 404
        r = await other.post(f"/staff/checkins/{first}/reverse", {"reason": "别馆", "booking_id": "1"})
        assert r.status_code == 404
    assert await _admitted(booking["id"]) == (20, 1)


async def test_offline_and_review_flags_are_shown(client: httpx.AsyncClient, frozen: Clock) -> None:
    _w, booking = await _scene(client, frozen)
    first, _second = await _ids(booking["id"])
    await CheckIn.update({CheckIn.offline: True, CheckIn.needs_review: True}).where(CheckIn.id == first)
    s = PageSession(client)
    await s.sign_in("super_a", PASSWORD)
    page = await s.get(f"/staff/bookings/{booking['id']}/checkins")
    assert "离线" in page.text and "待核查" in page.text
