"""Changing a booking's numbers: anything within the rules until the final-count deadline, then only
increases while places remain; simultaneous changes never overfill a slot or a venue's day."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from tests.api_support import assert_error, at, refresh_tokens
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


async def patch(w: World, who: str, booking_id: int, **counts: int) -> httpx.Response:
    return await w.client.patch(f"/api/v1/bookings/{booking_id}", json=counts, headers=w.h[who])


async def remaining(w: World, slot_id: int) -> int:
    return int((await w.get("auditor", f"/api/v1/slots/{slot_id}")).json()["remaining"])


async def test_without_rules_any_change_that_fits(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot = await w.slot(capacity=50, starts_at=at(10), ends_at=at(12))  # today
    booking = (await w.book(slot["id"], 30, 2)).json()
    r = await patch(w, "teacher_a", booking["id"], students=10)
    assert r.status_code == 200 and (r.json()["students"], r.json()["chaperones"]) == (10, 2)
    assert await remaining(w, slot["id"]) == 38
    r = await patch(w, "staff_a", booking["id"], students=40, chaperones=10)
    assert r.status_code == 200 and await remaining(w, slot["id"]) == 0
    detail = assert_error(await patch(w, "teacher_a", booking["id"], students=41), 409)["detail"]
    assert "此场次仅剩 0 个名额，而修改后需再增加 1 个" in detail
    assert await remaining(w, slot["id"]) == 0
    assert_error(await patch(w, "teacher_a", booking["id"], students=0, chaperones=0), 422)
    # A slot that has started cannot change.
    frozen.set(at(10, 1))
    assert_error(await patch(w, "teacher_a", booking["id"], students=5), 409)


async def test_final_count_deadline(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, final_count_days=7, students_per_adult=20, group_min=10)
    slot = await w.slot(capacity=80, starts_at=at(10, days=10), ends_at=at(12, days=10))  # 2030-05-30
    booking = (await w.book(slot["id"], 40, 2)).json()
    # Until 2030-05-23 (7 days before) smaller is fine, within the group rules.
    assert (await patch(w, "teacher_a", booking["id"], students=35)).status_code == 200
    detail = assert_error(await patch(w, "teacher_a", booking["id"], students=5, chaperones=1), 409)["detail"]
    assert "每团至少 10 人" in detail
    frozen.set(at(8, days=3) + timedelta(hours=15))  # 2030-05-23 23:00: still the deadline day
    await refresh_tokens(w)
    assert (await patch(w, "teacher_a", booking["id"], students=34)).status_code == 200
    frozen.set(at(8, days=4))  # 2030-05-24
    await refresh_tokens(w)
    detail = assert_error(await patch(w, "teacher_a", booking["id"], students=33), 409)["detail"]
    assert "最终人数须在 2030-05-23 前确认" in detail and "34 名学生" in detail
    assert_error(await patch(w, "teacher_a", booking["id"], chaperones=1), 409)
    r = await patch(w, "teacher_a", booking["id"], students=40)
    assert r.status_code == 200 and await remaining(w, slot["id"]) == 80 - 42
    detail = assert_error(await patch(w, "teacher_a", booking["id"], students=41), 409)["detail"]
    assert "每 20 名学生需 1 名带队成人" in detail
    # Cancelled and checked-in bookings cannot change.
    assert (await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).status_code == 200
    assert_error(await patch(w, "teacher_a", booking["id"], students=45), 409)


async def test_simultaneous_increases_never_overfill(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, final_count_days=7)
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    teachers = ("teacher_a", "teacher_a2", "teacher_b")
    bookings = [(await w.book(slot["id"], 20, 1, who=t)).json() for t in teachers]
    assert await remaining(w, slot["id"]) == 37
    # Each asks for 15 more at once: only two fit in 37.
    results = await asyncio.gather(
        *[patch(w, t, b_["id"], students=35) for t, b_ in zip(teachers, bookings, strict=True)]
    )
    assert sorted(r.status_code for r in results) == [200, 200, 409]
    assert await remaining(w, slot["id"]) == 7
    # A change and a new booking racing for the last 7 places: one of them gets them.
    owner, grown = next(
        (t, b_) for t, b_, r in zip(teachers, bookings, results, strict=True) if r.status_code == 200
    )
    both = await asyncio.gather(
        patch(w, owner, grown["id"], students=40), w.book(slot["id"], 6, 1, who="teacher_b")
    )
    assert sorted(r.status_code for r in both) in ([200, 409], [201, 409])
    assert await remaining(w, slot["id"]) == (2 if both[0].status_code == 200 else 0)
    held = 0
    for b_ in (await w.get("auditor", "/api/v1/bookings")).json()["items"]:
        if b_["status"] == "confirmed":
            held += b_["students"] + b_["chaperones"]
    assert held == 100 - await remaining(w, slot["id"])


async def test_simultaneous_changes_of_one_booking_apply_once(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await setup(client, frozen)
    slot = await w.slot(capacity=100, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 20, 1)).json()
    results = await asyncio.gather(
        *[patch(w, "teacher_a", booking["id"], students=20 + i) for i in range(1, 9)]
    )
    ok = [r for r in results if r.status_code == 200]
    assert ok and all(r.status_code in (200, 409) for r in results)
    final = (await w.get("auditor", f"/api/v1/bookings/{booking['id']}")).json()
    # The slot's places are exactly the booking's numbers, whichever change came last.
    assert 100 - await remaining(w, slot["id"]) == final["students"] + final["chaperones"]


async def test_daily_cap_holds_for_increases(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, daily_cap=100)
    a = await w.slot(capacity=100, starts_at=at(9, days=3), ends_at=at(11, days=3))
    b = await w.slot(capacity=100, starts_at=at(14, days=3), ends_at=at(16, days=3))
    one = (await w.book(a["id"], 40, 2)).json()
    two = (await w.book(b["id"], 40, 2, who="teacher_b")).json()
    results = await asyncio.gather(
        patch(w, "teacher_a", one["id"], students=50), patch(w, "teacher_b", two["id"], students=50)
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    detail = next(r for r in results if r.status_code == 409).json()["detail"]
    assert "场馆每天最多接待 100 名团体参观者" in detail
    assert (100 - await remaining(w, a["id"])) + (100 - await remaining(w, b["id"])) == 94


async def test_headcount_form_on_the_pass_page(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, final_count_days=7)
    slot = await w.slot(capacity=40, starts_at=at(10, days=10), ends_at=at(12, days=10))
    booking = (await w.book(slot["id"], 30, 2)).json()
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/bookings/{booking['id']}")
    assert 'data-testid="headcount"' in page.text and "2030-05-23" in page.text
    page = await s.follow(
        await s.post(f"/bookings/{booking['id']}/headcount", {"students": "25", "chaperones": "2"})
    )
    assert "人数已修改" in page.text and await remaining(w, slot["id"]) == 13
    r = await s.post(f"/bookings/{booking['id']}/headcount", {"students": "50", "chaperones": "2"})
    assert r.status_code == 409 and "此场次" in r.text
    r = await s.post(f"/bookings/{booking['id']}/headcount", {"students": "-3", "chaperones": "2"})
    assert r.status_code == 400
    # The form is gone once the booking is cancelled.
    await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")
    assert 'data-testid="headcount"' not in (await s.get(f"/bookings/{booking['id']}")).text
