"""A venue's booking rules through the API and the pages: each rule says no in plain Chinese with
what would work instead, a venue without rules takes anything that fits, and the daily cap holds
under simultaneous bookings (both engines)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api_support import assert_error, at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues.tables import Slot

USUAL = {
    "min_lead_days": 3,
    "max_lead_days": 120,
    "group_min": 10,
    "group_max": 60,
    "students_per_adult": 20,
    "preschool_students_per_adult": 10,
}


async def world(client: httpx.AsyncClient, frozen: Clock, **rules: Any) -> World:
    frozen.set(at(8))  # 2030-05-20 08:00 in Xiamen
    w = await World(client).build()
    if rules:
        r = await w.client.patch(f"/api/v1/venues/{w.venue_a}", json=rules, headers=w.h["staff_a"])
        assert r.status_code == 200, r.text
    return w


async def slot_on(w: World, days: int, capacity: int = 100, hour: int = 10) -> dict[str, Any]:
    return await w.slot(capacity=capacity, starts_at=at(hour, days=days), ends_at=at(hour + 2, days=days))


async def test_a_venue_without_rules_has_none(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    venue = (await w.get("teacher_a", f"/api/v1/venues/{w.venue_a}")).json()
    for field in (*USUAL, "daily_cap", "approval_mode", "final_count_days", "free_cancel_days"):
        assert venue[field] is None, field
    today = await slot_on(w, 0, capacity=500)
    # Same day, one student, no adult, a huge group: anything that has not started and fits.
    for students, adults in ((1, 0), (400, 0), (0, 1)):
        r = await w.book(today["id"], students, adults)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "confirmed"


async def test_rules_are_venue_fields_set_by_its_staff(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, **USUAL, daily_cap=300, approval_mode="auto")
    venue = (await w.get("teacher_b", f"/api/v1/venues/{w.venue_a}")).json()
    assert {k: venue[k] for k in USUAL} == USUAL
    assert venue["daily_cap"] == 300 and venue["approval_mode"] == "auto"
    # null takes a rule away; the others stay.
    r = await w.client.patch(f"/api/v1/venues/{w.venue_a}", json={"daily_cap": None}, headers=w.h["staff_a"])
    assert r.json()["daily_cap"] is None and r.json()["group_min"] == 10
    # A bound contradicting the stored other one is refused and nothing changes.
    r = await w.client.patch(f"/api/v1/venues/{w.venue_a}", json={"group_min": 61}, headers=w.h["staff_a"])
    assert "每团最少人数不能大于最多人数" in assert_error(r, 422)["detail"]
    # An auditor can register a venue with its rules.
    r = await w.post(
        "auditor",
        "/api/v1/venues",
        {
            "name": "海沧实验室",
            "kind": "laboratory",
            "district": "海沧区",
            "group_max": 30,
            "approval_mode": "request",
        },
    )
    assert r.status_code == 201 and r.json()["group_max"] == 30 and r.json()["min_lead_days"] is None


async def test_lead_time_says_the_earliest_day_and_a_slot(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, **USUAL)
    tomorrow = await slot_on(w, 1)
    later = await slot_on(w, 4, hour=14)
    r = await w.book(tomorrow["id"], 30, 2)
    detail = assert_error(r, 409)["detail"]
    assert "需至少提前 3 天预约，最早可预约 2030-05-23 的场次" in detail
    assert "可改约 2030-05-24 14:00" in detail
    assert (await w.book(later["id"], 30, 2)).status_code == 201
    far = await slot_on(w, 121)
    detail = assert_error(await w.book(far["id"], 30, 2), 409)["detail"]
    assert "最多可提前 120 天预约" in detail and "2030-05-21" in detail
    # Nothing was held by the refusals.
    assert (await w.get("teacher_a", f"/api/v1/slots/{tomorrow['id']}")).json()["booked"] == 0


async def test_group_size_and_adult_ratio(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, **USUAL)
    slot = await slot_on(w, 5)
    detail = assert_error(await w.book(slot["id"], 5, 1), 409)["detail"]
    assert "每团至少 10 人" in detail and "6 人" in detail
    detail = assert_error(await w.book(slot["id"], 60, 3), 409)["detail"]
    assert "每团最多 60 人" in detail and "分成两个预约" in detail
    detail = assert_error(await w.book(slot["id"], 40, 1, grade_band="primary_high"), 409)["detail"]
    assert "每 20 名学生需 1 名带队成人" in detail and "请增加 1 名成人" in detail
    detail = assert_error(await w.book(slot["id"], 30, 2, grade_band="preschool"), 409)["detail"]
    assert "每 10 名学生需 1 名带队成人" in detail and "请增加 1 名成人" in detail
    r = await w.book(slot["id"], 30, 3, grade_band="preschool")
    assert r.status_code == 201 and r.json()["grade_band"] == "preschool"
    # English speakers get the same rule in English.
    r = await w.client.post(
        "/api/v1/bookings",
        json={"slot_id": slot["id"], "students": 40, "chaperones": 1},
        headers={**w.h["teacher_a"], "Accept-Language": "en"},
    )
    assert "Please add 1 more adults" in assert_error(r, 409)["detail"]


async def test_blackout_days(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, min_lead_days=3)
    holiday = await slot_on(w, 5)
    after = await slot_on(w, 6)
    url = f"/api/v1/venues/{w.venue_a}/blackouts"
    r = await w.post("staff_a", url, {"day": "2030-05-25", "reason": "端午节"})
    assert r.status_code == 201, r.text
    assert (await w.post("staff_a", url, {"day": "2030-05-25", "reason": "端午节假期"})).status_code == 201
    listed = (await w.get("teacher_a", url)).json()["items"]
    assert listed == [{"day": "2030-05-25", "reason": "端午节假期"}]
    assert_error(await w.post("staff_b", url, {"day": "2030-05-26"}), 403)
    detail = assert_error(await w.book(holiday["id"], 30, 2), 409)["detail"]
    assert "场馆 2030-05-25 不接受团体预约（端午节假期）" in detail
    assert "可改约 2030-05-26 10:00" in detail
    assert (await w.book(after["id"], 30, 2)).status_code == 201
    r = await w.client.delete(f"{url}/2030-05-25", headers=w.h["staff_a"])
    assert r.status_code == 204
    assert (await w.book(holiday["id"], 30, 2)).status_code == 201


async def test_daily_cap_counts_every_slot_of_the_day(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, daily_cap=100)
    morning, afternoon = await slot_on(w, 3), await slot_on(w, 3, hour=14)
    next_day = await slot_on(w, 4)
    assert (await w.book(morning["id"], 58, 2)).status_code == 201
    detail = assert_error(await w.book(afternoon["id"], 48, 2), 409)["detail"]
    assert "场馆每天最多接待 100 名团体参观者，2030-05-23 仅剩 40 个名额" in detail
    assert "可改约 2030-05-24 10:00" in detail
    assert (await w.book(afternoon["id"], 38, 2)).status_code == 201
    # A cancel gives the day's places back.
    assert (await w.book(next_day["id"], 98, 2)).status_code == 201


async def test_daily_cap_cannot_be_oversold_by_simultaneous_bookings(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await world(client, frozen, daily_cap=100)
    slots = [await slot_on(w, 3, capacity=100, hour=h) for h in (9, 11, 14, 16)]
    teachers = ["teacher_a", "teacher_a2", "teacher_b"]
    results = await asyncio.gather(
        *[w.book(slots[i % 4]["id"], 28, 2, who=teachers[i % 3]) for i in range(12)]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [409] * 9, codes
    booked = [(await w.get("auditor", f"/api/v1/slots/{s['id']}")).json()["booked"] for s in slots]
    assert sum(booked) == 90


async def test_capacity_still_cannot_be_oversold_with_rules(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, **USUAL, daily_cap=1000)
    slot = await slot_on(w, 3, capacity=100)
    results = await asyncio.gather(*[w.book(slot["id"], 30, 2, who="teacher_b") for _ in range(8)])
    assert sorted(r.status_code for r in results) == [201] * 3 + [409] * 5
    assert (await w.get("auditor", f"/api/v1/slots/{slot['id']}")).json()["booked"] == 96


async def test_a_full_slot_names_another_with_room(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    small = await slot_on(w, 2, capacity=20)
    await slot_on(w, 2, capacity=20, hour=14)
    await slot_on(w, 3, capacity=100, hour=9)
    detail = assert_error(await w.book(small["id"], 30, 2), 409)["detail"]
    assert "该场次仅剩 20 个名额，您的团队需要 32 个" in detail
    assert "可改约 2030-05-23 09:00 的场次（尚余 100 个名额）" in detail
    # A slot on a day the venue closes, and an earlier one that was called off, are not offered.
    url = f"/api/v1/venues/{w.venue_a}/blackouts"
    assert (await w.post("staff_a", url, {"day": "2030-05-23", "reason": "检修"})).status_code == 201
    called_off = await slot_on(w, 4, capacity=100, hour=8)
    await Slot.update({Slot.cancelled_at: at(0), Slot.cancel_reason: "停电"}).where(
        Slot.id == called_off["id"]
    )
    await slot_on(w, 4, capacity=100, hour=9)
    detail = assert_error(await w.book(small["id"], 30, 2), 409)["detail"]
    assert "可改约 2030-05-24 09:00 的场次（尚余 100 个名额）" in detail
    # Filled while the teacher was deciding: the same answer once the places are gone.
    await Slot.update({Slot.booked: 20}).where(Slot.id == small["id"])
    detail = assert_error(await w.book(small["id"], 1, 0), 409)["detail"]
    assert "该场次仅剩 0 个名额，您的团队需要 1 个" in detail


async def test_rules_page_proposes_defaults_and_saves(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    s = PageSession(client)
    await s.sign_in("staff_a", PASSWORD)
    dashboard = await s.get("/staff")
    assert f"/venues/{w.venue_a}/rules" in dashboard.text and "/staff/requests" in dashboard.text
    page = await s.get(f"/venues/{w.venue_a}/rules")
    assert page.status_code == 200
    assert "本场馆尚未设置规则" in page.text
    assert 'name="min_lead_days" type="number" value="3"' in page.text
    assert 'name="group_max" type="number" value="60"' in page.text
    assert 'name="final_count_days" type="number" value="7"' in page.text
    assert 'name="free_cancel_days" type="number" value="2"' in page.text
    # Proposing is not applying: the venue still has no rules until the form is saved.
    assert (await w.get("teacher_a", f"/api/v1/venues/{w.venue_a}")).json()["min_lead_days"] is None
    form = {
        **{k: str(v) for k, v in USUAL.items()},
        "daily_cap": "",
        "approval_mode": "request",
        "final_count_days": "7",
        "free_cancel_days": "",
    }
    r = await s.post(f"/venues/{w.venue_a}/rules", {**form, "group_min": "70"})
    assert r.status_code == 422 and "每团最少人数不能大于最多人数" in r.text
    r = await s.post(f"/venues/{w.venue_a}/rules", {**form, "group_max": "-1"})
    assert r.status_code == 400
    saved = await s.follow(await s.post(f"/venues/{w.venue_a}/rules", form))
    assert "预约规则已保存" in saved.text and "本场馆尚未设置规则" not in saved.text
    venue = (await w.get("teacher_a", f"/api/v1/venues/{w.venue_a}")).json()
    assert {k: venue[k] for k in USUAL} == USUAL and venue["daily_cap"] is None
    assert venue["approval_mode"] == "request"
    assert venue["final_count_days"] == 7 and venue["free_cancel_days"] is None
    # Blackout days on the same page.
    r = await s.post(f"/venues/{w.venue_a}/blackouts", {"day": "2030-10-01", "reason": "国庆节"})
    page = await s.follow(r)
    assert "国庆节" in page.text
    r = await s.post(f"/venues/{w.venue_a}/blackouts", {"day": "2030-05-01", "reason": "过去"})
    assert r.status_code == 400 and "停止接待日须为今天或之后的日期" in r.text
    page = await s.follow(await s.post(f"/venues/{w.venue_a}/blackouts/2030-10-01/delete"))
    assert "没有停止接待日" in page.text
    # Another venue's staff may not open it.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        other = PageSession(c2)
        await other.sign_in("staff_b", PASSWORD)
        assert (await other.get(f"/venues/{w.venue_a}/rules")).status_code == 403


async def test_book_page_shows_the_rules_and_tells_why_not(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen, **USUAL)
    slot = await slot_on(w, 5)
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/slots/{slot['id']}/book")
    assert "需至少提前 3 天预约" in page.text and "每 20 名学生需 1 名带队成人" in page.text
    assert 'name="grade_band"' in page.text and "小学高段" in page.text
    r = await s.post(
        f"/slots/{slot['id']}/book", {"students": "40", "chaperones": "1", "grade_band": "primary_high"}
    )
    assert r.status_code == 409 and "请增加 1 名成人" in r.text
    r = await s.post(f"/slots/{slot['id']}/book", {"students": "40", "chaperones": "2", "grade_band": ""})
    pass_page = await s.follow(r)
    assert "已确认" in pass_page.text or "Confirmed" in pass_page.text
