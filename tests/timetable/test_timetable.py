"""Series (create, preview, edit, cancel), cancelling slots with bookings, holidays, opening hours and
walk-ins through the services and pages, on both engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest

from accounts import services as accounts
from accounts.schemas import UserView
from accounts.tables import User
from bookings.tables import Booking, Strike
from core import clock
from kepu.auth import load_actor
from messaging.tables import Outbox
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from timetable import services
from timetable.recurrence import RuleError
from timetable.services import SeriesDraft, TimetableError
from timetable.tables import PublicHoliday, SlotSeries, WalkIn
from venues import services as venues
from venues.schemas import BlackoutForm
from venues.tables import Slot

TZ = clock.TZ
NOW = datetime(2027, 2, 20, 10, 0, tzinfo=TZ)


async def user(username: str) -> UserView:
    found = await accounts.get_user_by_username(username)
    assert found is not None
    actor = await load_actor(found.id)
    assert actor is not None
    return actor


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(NOW)
    w = await World(client).build()
    await services.seed_holidays()  # PostgreSQL tests empty every table, the seeded holidays too
    for name in ("teacher_a", "teacher_b"):
        await User.update({User.email: f"{name}@school.example", User.email_verified_at: clock.now()}).where(
            User.username == name
        )
    return w


def spring_term(**extra: Any) -> SeriesDraft:
    fields: dict[str, Any] = {
        "rule": "FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20270630",
        "first_day": date(2027, 3, 1),
        "start": time(9, 30),
        "end": time(11, 0),
        "capacity": 80,
        "title": "少年科学院",
    }
    return SeriesDraft(**(fields | extra))


async def series_slots(series_id: int) -> list[dict[str, Any]]:
    return list(
        await Slot.select(
            Slot.id, Slot.starts_at, Slot.ends_at, Slot.capacity, Slot.booked, Slot.cancelled_at
        )
        .where(Slot.series_id == series_id)
        .order_by(Slot.starts_at)
    )


async def test_holidays_are_seeded_once(world: World) -> None:
    assert await services.seed_holidays() == 0  # the fixture (or the migration) added them already
    days = {h["day"]: h["name"] for h in await services.list_holidays(2026)}
    assert days[date(2026, 2, 17)] == "春节" and days[date(2026, 10, 7)] == "国庆节"
    assert date(2026, 2, 14) not in days  # a make-up working Saturday is not a holiday
    assert len(days) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert {h["name"] for h in await services.list_holidays(2027)} == {
        "元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节",
    }  # fmt: skip


async def test_series_makes_its_slots_leaving_out_holidays_blackouts_closures_and_exdates(
    world: World,
) -> None:
    staff = await user("staff_a")
    await venues.set_blackout(staff, world.venue_a, BlackoutForm(day=date(2027, 5, 13), reason="设备检修"))
    await services.set_closure(staff, world.venue_a, date(2027, 6, 7), "馆内布展")
    draft = spring_term(exdates=[date(2027, 3, 4)])
    preview = await services.preview_series(staff, world.venue_a, draft)
    skipped = {o.day: o.skipped for o in preview.skipped}
    assert skipped == {
        date(2027, 3, 4): "exdate",
        date(2027, 4, 5): "holiday",  # 清明节, a Monday
        date(2027, 5, 13): "blackout",
        date(2027, 6, 7): "closure",
    }
    assert await SlotSeries.count() == 0 and await Slot.count() == 0  # a preview writes nothing
    series_id, made = await services.create_series(staff, world.venue_a, draft)
    rows = await series_slots(series_id)
    assert len(rows) == len(made.made) == len(preview.made) == 35 - 4
    for r in rows:
        starts = clock.local(r["starts_at"])
        assert starts.weekday() in (0, 3) and starts.time() == time(9, 30)
        assert clock.local(r["ends_at"]).time() == time(11, 0)
        assert r["capacity"] == 80 and r["booked"] == 0
    assert {clock.local(r["starts_at"]).date() for r in rows}.isdisjoint(skipped)
    # Without skipping holidays, 清明 is made too.
    other = await services.preview_series(staff, world.venue_a, spring_term(skip_holidays=False))
    assert date(2027, 4, 5) in {o.day for o in other.made}
    listed = await services.list_series(staff, world.venue_a)
    assert [(s.id, s.slots, s.upcoming) for s in listed] == [(series_id, 31, 31)]


async def test_series_refusals_write_nothing(world: World) -> None:
    staff = await user("staff_a")
    other_staff = await user("staff_b")
    cases: list[tuple[SeriesDraft, type[Exception], str]] = [
        (spring_term(rule="FREQ=WEEKLY;BYDAY=MO"), RuleError, "unbounded"),
        (spring_term(rule="FREQ=DAILY;COUNT=600"), RuleError, "too_many"),
        (spring_term(rule="FREQ=DAILY;UNTIL=20300101"), RuleError, "too_long"),
        (spring_term(first_day=date(2027, 2, 1)), TimetableError, "past_first_day"),
        (spring_term(capacity=0), TimetableError, "capacity"),
        (spring_term(programme_id=999), TimetableError, "programme"),
        (
            spring_term(rule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270302", exdates=[date(2027, 3, 1)]),
            TimetableError,
            "no_dates",
        ),
    ]  # fmt: skip
    for draft, error, code in cases:
        with pytest.raises(error) as caught:
            await services.create_series(staff, world.venue_a, draft)
        assert caught.value.code == code  # type: ignore[attr-defined]
    with pytest.raises(Exception) as caught:
        await services.create_series(other_staff, world.venue_a, spring_term())
    assert caught.value.code == "other_venue"  # type: ignore[attr-defined]
    assert await SlotSeries.count() == 0 and await Slot.count() == 0


async def test_editing_the_series_keeps_booked_occurrences_and_remakes_the_rest(
    world: World, frozen: Clock
) -> None:
    staff = await user("staff_a")
    series_id, _ = await services.create_series(staff, world.venue_a, spring_term())
    rows = await series_slots(series_id)
    booked_slot = rows[2]["id"]  # Monday 8 March
    r = await world.book(booked_slot, students=30, chaperones=2, who="teacher_a")
    assert r.status_code == 201, r.text
    # A cancelled booking alone does not keep an occurrence's time.
    lone = rows[3]["id"]
    r = await world.book(lone, students=20, chaperones=2, who="teacher_b")
    assert (await world.post("teacher_b", f"/api/v1/bookings/{r.json()['id']}/cancel")).status_code == 200
    frozen.set(datetime(2027, 3, 2, 12, 0, tzinfo=TZ))  # the first two occurrences are past now
    change = await services.update_series(
        staff,
        series_id,
        spring_term(
            rule="FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20270531", start=time(14, 0), end=time(15, 30), capacity=20
        ),
    )
    after = await series_slots(series_id)
    by_id = {r["id"]: r for r in after}
    # Past occurrences are history.
    assert by_id[rows[0]["id"]]["starts_at"] == rows[0]["starts_at"]
    # The booked one keeps its time and booking; its capacity follows but never below what is booked.
    kept = by_id[booked_slot]
    assert kept["starts_at"] == rows[2]["starts_at"] and kept["booked"] == 32 and kept["capacity"] == 32
    # The one with only a cancelled booking is reused at the new time.
    assert clock.local(by_id[lone]["starts_at"]).time() == time(14, 0)
    future = [r for r in after if r["starts_at"] > clock.now() and r["id"] != booked_slot]
    assert future and all(clock.local(r["starts_at"]).time() == time(14, 0) for r in future)
    assert all(r["capacity"] == 20 for r in future)
    assert max(clock.local(r["starts_at"]).date() for r in after) <= date(2027, 5, 31)
    assert change.kept_with_bookings == 1 and change.removed > 0
    # One slot per day, never two.
    days = [clock.local(r["starts_at"]).date() for r in after if r["cancelled_at"] is None]
    assert len(days) == len(set(days))
    series = await services.get_series(staff, series_id)
    assert series.start_time == "14:00" and series.rrule == "FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20270531T235959"


async def test_one_occurrence_capacity_never_below_booked_and_a_new_time_is_told(world: World) -> None:
    staff = await user("staff_a")
    series_id, _ = await services.create_series(staff, world.venue_a, spring_term())
    slot_id = (await series_slots(series_id))[0]["id"]
    r = await world.book(slot_id, students=30, chaperones=2, who="teacher_a")
    assert r.status_code == 201, r.text
    with pytest.raises(TimetableError) as caught:
        await services.edit_occurrence(staff, slot_id, time(9, 30), time(11, 0), 31)
    assert caught.value.code == "capacity_below_booked" and "32" in caught.value.message()
    await services.edit_occurrence(staff, slot_id, time(10, 0), time(11, 30), 32)
    row = await Slot.select(Slot.starts_at, Slot.capacity).where(Slot.id == slot_id).first()
    assert row is not None and clock.local(row["starts_at"]).time() == time(10, 0) and row["capacity"] == 32
    mails = await Outbox.select(Outbox.kind, Outbox.recipient, Outbox.body).where(Outbox.kind == "slot_moved")
    assert [(m["kind"], m["recipient"]) for m in mails] == [("slot_moved", "teacher_a@school.example")]
    assert "10:00" in mails[0]["body"]


async def test_cancelling_a_slot_cancels_its_bookings_frees_places_tells_teachers_with_alternatives(
    world: World, client: httpx.AsyncClient
) -> None:
    staff = await user("staff_a")
    slot = await world.slot(capacity=100, starts_at=datetime(2027, 3, 10, 9, 30, tzinfo=TZ))
    near = await world.slot(capacity=60, starts_at=datetime(2027, 3, 11, 9, 30, tzinfo=TZ))
    small = await world.slot(capacity=20, starts_at=datetime(2027, 3, 10, 14, 0, tzinfo=TZ))
    later = await world.slot(capacity=100, starts_at=datetime(2027, 3, 25, 9, 30, tzinfo=TZ))
    elsewhere = await world.slot(capacity=100, venue="b", starts_at=datetime(2027, 3, 10, 9, 30, tzinfo=TZ))
    a = await world.book(slot["id"], students=30, chaperones=2, who="teacher_a")
    b = await world.book(slot["id"], students=40, chaperones=3, who="teacher_b")
    assert a.status_code == 201 and b.status_code == 201
    summary = await services.cancel_slot(staff, slot["id"], "馆内停电检修")
    assert (summary.bookings, summary.places, summary.messages) == (2, 75, 2)
    row = (
        await Slot.select(Slot.booked, Slot.cancelled_at, Slot.cancel_reason)
        .where(Slot.id == slot["id"])
        .first()
    )
    assert row is not None and row["booked"] == 0 and row["cancelled_at"] is not None
    assert row["cancel_reason"] == "馆内停电检修"
    statuses = await Booking.select(Booking.status).where(Booking.slot == slot["id"])
    assert {s["status"] for s in statuses} == {"cancelled"}
    assert await Strike.count() == 0  # the venue's doing: no strike for the schools
    mails = {
        m["recipient"]: m
        for m in await Outbox.select(Outbox.recipient, Outbox.subject, Outbox.body, Outbox.kind).where(
            Outbox.kind == "slot_cancelled"
        )
    }
    assert set(mails) == {"teacher_a@school.example", "teacher_b@school.example"}
    body = mails["teacher_a@school.example"]["body"]
    assert "馆内停电检修" in body
    # Nearest first, only slots of the same venue with room for this class (32 people).
    assert body.index("2027-03-11 09:30") < body.index("2027-03-25 09:30")
    assert f"/slots/{near['id']}/book" in body and f"/slots/{small['id']}/book" not in body
    assert f"/slots/{elsewhere['id']}/book" not in body and f"/slots/{later['id']}/book" in body
    # A cancelled slot takes no booking, with a sentence.
    r = await world.book(slot["id"], students=10, chaperones=1, who="teacher_a")
    assert r.status_code == 409 and "馆内停电检修" in r.json()["detail"]
    # Cancelling twice says so.
    with pytest.raises(TimetableError) as caught:
        await services.cancel_slot(staff, slot["id"], "again")
    assert caught.value.code == "slot_cancelled"
    # The teacher sees it on the bookings page, with the alternatives.
    page = PageSession(client)
    await page.sign_in("teacher_a", PASSWORD)
    listing = await page.get("/bookings")
    assert 'data-testid="slot-notices"' in listing.text and "馆内停电检修" in listing.text
    assert f"/slots/{near['id']}/book" in listing.text


async def test_cancelling_a_series_cancels_future_occurrences(world: World) -> None:
    staff = await user("staff_a")
    series_id, preview = await services.create_series(staff, world.venue_a, spring_term())
    first = (await series_slots(series_id))[0]["id"]
    assert (await world.book(first, students=30, chaperones=2)).status_code == 201
    with pytest.raises(TimetableError):
        await services.cancel_series(staff, series_id, "  ")
    summary = await services.cancel_series(staff, series_id, "课程调整")
    assert summary.slots == len(preview.made) and summary.bookings == 1 and summary.messages == 1
    assert all(r["cancelled_at"] is not None for r in await series_slots(series_id))
    with pytest.raises(TimetableError) as caught:
        await services.update_series(staff, series_id, spring_term())
    assert caught.value.code == "series_cancelled"


async def test_series_pages_preview_create_edit_and_cancel(world: World, client: httpx.AsyncClient) -> None:
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    dashboard = await page.get("/staff")
    assert f'href="/venues/{world.venue_a}/series"' in dashboard.text
    listing = await page.get(f"/venues/{world.venue_a}/series")
    assert listing.status_code == 200
    form = {
        "title": "周二周四科学课",
        "kind": "school_visit",
        "capacity": "60",
        "start": "09:30",
        "end": "11:00",
        "first_day": "2027-03-01",
        "last_day": "2027-06-30",
        "wd_TU": "on",
        "wd_TH": "on",
        "interval": "1",
        "exdates": "2027-04-06, 2027-04-08",
        "skip_holidays": "on",
        "rrule": "",
    }
    preview = await page.post(f"/venues/{world.venue_a}/series", form)
    assert preview.status_code == 200 and 'data-testid="series-preview"' in preview.text
    assert await Slot.count() == 0
    # A bad rule gets a sentence and the form back.
    bad = await page.post(f"/venues/{world.venue_a}/series", {**form, "rrule": "FREQ=WEEKLY;BYDAY=TU"})
    assert bad.status_code == 422 and "UNTIL" in bad.text
    bad = await page.post(f"/venues/{world.venue_a}/series", {**form, "exdates": "4月6日"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    created = await page.post(f"/venues/{world.venue_a}/series", {**form, "confirm": "1"})
    assert created.status_code == 303
    detail = await page.follow(created)
    assert "周二周四科学课" in detail.text
    series_id = int(str(created.headers["location"]).rsplit("/", 1)[1])
    count = await Slot.count().where(Slot.series_id == series_id)
    assert count == 35 - 2  # 35 Tuesdays and Thursdays, two left out; no holiday on them in 2027
    edited = await page.post(
        f"/series/{series_id}/edit",
        {**form, "capacity": "40", "rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270630", "exdates": ""},
    )
    assert edited.status_code == 303
    assert await Slot.count().where(Slot.series_id == series_id) == 18
    slot_id = (await series_slots(series_id))[0]["id"]
    manage = await page.get(f"/slots/{slot_id}/manage")
    assert manage.status_code == 200 and 'data-testid="slot-cancel"' in manage.text
    refused = await page.post(f"/slots/{slot_id}/cancel", {"reason": ""})
    assert refused.status_code == 422
    done = await page.post(f"/slots/{slot_id}/cancel", {"reason": "台风停课"})
    assert done.status_code == 303
    cancelled = await page.post(f"/series/{series_id}/cancel", {"reason": "学期结束"})
    assert cancelled.status_code == 303
    assert await Slot.count().where((Slot.series_id == series_id) & Slot.cancelled_at.is_null()) == 0
    # Another venue's staff cannot see it.
    other = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await other.sign_in("staff_b", PASSWORD)
    assert (await other.get(f"/series/{series_id}")).status_code == 403


async def test_auditors_keep_the_holidays(world: World, client: httpx.AsyncClient) -> None:
    page = PageSession(client)
    await page.sign_in("auditor", PASSWORD)
    listing = await page.get("/audit/holidays")
    assert listing.status_code == 200 and "国庆节" in listing.text
    r = await page.post("/audit/holidays", {"day": "2027-02-09", "name": "春节"})
    assert r.status_code == 303
    assert await PublicHoliday.exists().where(PublicHoliday.day == date(2027, 2, 9))
    r = await page.post("/audit/holidays", {"day": "2027-02-10", "name": ""})
    assert r.status_code == 422
    r = await page.post("/audit/holidays", {"day": "not a day", "name": "x"})
    assert r.status_code == 400
    r = await page.post("/audit/holidays/2027-02-09/delete")
    assert r.status_code == 303
    assert not await PublicHoliday.exists().where(PublicHoliday.day == date(2027, 2, 9))
    staff = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await staff.sign_in("staff_a", PASSWORD)
    assert (await staff.get("/audit/holidays")).status_code == 403


async def test_opening_hours_closures_and_youth_days(world: World, client: httpx.AsyncClient) -> None:
    staff = await user("staff_a")
    venue = world.venue_a
    # No pattern: open every day, at any hour.
    hours = await services.opening_hours(venue, date(2027, 3, 1))
    assert hours.open and not hours.configured
    assert await services.is_open(venue, datetime(2027, 3, 1, 3, 0, tzinfo=TZ))
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    assert (await page.get(f"/venues/{venue}/hours")).status_code == 200
    form = {f"opens_{i}": "09:00" for i in range(7)} | {f"closes_{i}": "17:00" for i in range(7)}
    form["closed_0"] = "on"  # closed on Mondays
    form["closes_5"] = "20:00"  # late on Saturdays
    bad = await page.post(f"/venues/{venue}/hours", {**form, "closes_2": "08:00"})
    assert bad.status_code == 422 and ("星期三" in bad.text or "Wednesday" in bad.text)
    assert (await page.post(f"/venues/{venue}/hours", form)).status_code == 303
    monday, tuesday, saturday = date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 6)
    assert not (await services.opening_hours(venue, monday)).open
    tue = await services.opening_hours(venue, tuesday)
    assert tue.open and tue.opens == time(9, 0) and tue.closes == time(17, 0)
    assert await services.is_open(venue, datetime(2027, 3, 2, 9, 0, tzinfo=TZ))
    assert not await services.is_open(venue, datetime(2027, 3, 2, 17, 0, tzinfo=TZ))
    assert not await services.is_open(venue, datetime(2027, 3, 2, 0, 30, tzinfo=UTC))  # 08:30 in Beijing
    assert await services.is_open(venue, datetime(2027, 3, 6, 19, 0, tzinfo=TZ))
    assert (await services.opening_hours(venue, saturday)).closes == time(20, 0)
    at = lambda d, h: datetime.combine(d, time(h, 0), tzinfo=TZ)  # noqa: E731
    assert not await services.outside_hours(venue, at(tuesday, 10), at(tuesday, 11))
    assert await services.outside_hours(venue, at(tuesday, 16), at(tuesday, 18))
    assert await services.outside_hours(venue, at(monday, 10), at(monday, 11))
    evening = await world.slot(
        capacity=30, starts_at=at(date(2027, 3, 9), 18), ends_at=at(date(2027, 3, 9), 19)
    )
    manage = await page.get(f"/slots/{evening['id']}/manage")
    assert 'data-testid="outside-hours"' in manage.text
    # A closure shuts a day the pattern opens.
    assert (
        await page.post(f"/venues/{venue}/closures", {"day": "2027-03-02", "reason": "布展"})
    ).status_code == 303
    closed = await services.opening_hours(venue, tuesday)
    assert not closed.open and closed.reason == "布展"
    assert (await page.post(f"/venues/{venue}/closures", {"day": "2020-01-01"})).status_code == 422
    # Youth-free Wednesdays and one discount date.
    assert (
        await page.post(f"/venues/{venue}/youth-days", {"weekday": "2", "kind": "free"})
    ).status_code == 303
    assert (
        await page.post(
            f"/venues/{venue}/youth-days", {"weekday": "", "day": "2027-06-01", "kind": "discount"}
        )
    ).status_code == 303
    assert (await page.post(f"/venues/{venue}/youth-days", {"weekday": "", "day": ""})).status_code == 422
    assert (await services.opening_hours(venue, date(2027, 3, 3))).youth == "free"
    assert (await services.opening_hours(venue, date(2027, 6, 1))).youth == "discount"
    free = await services.youth_free_days(venue, 2027)
    assert len(free) == 52 and all(d.weekday() == 2 for d in free)
    # A series outside the hours is flagged in the preview (and made all the same).
    preview = await services.preview_series(
        staff,
        venue,
        spring_term(rule="FREQ=WEEKLY;BYDAY=TU,SA;UNTIL=20270331", start=time(18, 0), end=time(19, 30)),
    )
    flagged = {o.day.weekday() for o in preview.outside_hours}
    assert flagged == {1}  # Tuesdays close at 17:00; Saturdays are open until 20:00
    # Another venue's staff may not change these hours.
    other = await user("staff_b")
    with pytest.raises(Exception) as caught:
        await services.set_weekly_hours(other, venue, [(True, "", "")] * 7)
    assert caught.value.code == "other_venue"  # type: ignore[attr-defined]


async def test_walk_ins_count_exactly_never_below_zero_and_once_per_nonce(
    world: World, client: httpx.AsyncClient
) -> None:
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    await page.get("/staff/scan")
    headers = {"x-csrftoken": page.csrf, "content-type": "application/json"}
    r = await client.post("/staff/walk-ins", json={"adults": 2, "youth": 3, "nonce": "n-1"}, headers=headers)
    assert r.status_code == 200 and r.json() == {"day": "2027-02-20", "adults": 2, "youth": 3, "total": 5}
    again = await client.post(
        "/staff/walk-ins", json={"adults": 2, "youth": 3, "nonce": "n-1"}, headers=headers
    )
    assert again.json()["total"] == 5  # a retried upload counts once
    down = await client.post("/staff/walk-ins", json={"adults": -5}, headers=headers)
    assert down.json()["adults"] == 0  # a correction never goes below zero
    old = await client.post("/staff/walk-ins", json={"youth": 1, "day": "2027-01-01"}, headers=headers)
    assert old.status_code == 422 and "7" in old.json()["detail"]
    yesterday = await client.post("/staff/walk-ins", json={"youth": 4, "day": "2027-02-19"}, headers=headers)
    assert yesterday.json() == {"day": "2027-02-19", "adults": 0, "youth": 4, "total": 4}
    for body in ({"adults": 99}, {"adults": "x"}, {"adults": 1, "extra": 1}):
        bad = await client.post("/staff/walk-ins", json=body, headers=headers)
        assert bad.status_code in (400, 422), body
    assert (await client.post("/staff/walk-ins", content=b"{", headers=headers)).status_code == 400
    today = await client.get("/staff/walk-ins")
    assert today.json() == {"day": "2027-02-20", "adults": 0, "youth": 3, "total": 3}
    roster = await page.get("/staff/roster")
    assert 'data-testid="roster-walkins"' in roster.text
    year = await services.walk_ins(world.venue_a, 2027)
    assert (year["adults"], year["youth"], year["total"]) == (0, 7, 7)
    assert year["days"] == {
        date(2027, 2, 19): {"adults": 0, "youth": 4},
        date(2027, 2, 20): {"adults": 0, "youth": 3},
    }
    assert (await services.walk_ins(world.venue_b, 2027))["total"] == 0
    # Teachers cannot count walk-ins.
    teacher = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await teacher.sign_in("teacher_a", PASSWORD)
    r = await teacher.client.post(
        "/staff/walk-ins", json={"adults": 1}, headers={"x-csrftoken": teacher.csrf}
    )
    assert r.status_code in (302, 303, 403)
    assert await WalkIn.count() == 3


async def test_bad_timetable_input_never_500s(world: World, client: httpx.AsyncClient) -> None:
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    venue = world.venue_a
    ok = {"capacity": "10", "start": "09:00", "end": "10:00", "first_day": "2027-03-01"}
    posts = [
        (f"/venues/{venue}/series", {"capacity": "abc", "start": "xx", "first_day": "2027-13-01"}),
        (f"/venues/{venue}/series", {**ok, "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=1"}),
        (f"/venues/{venue}/series", {**ok, "last_day": "2027-02-01", "wd_MO": "on"}),
        (f"/venues/{venue}/series", {**ok, "last_day": "2027-04-01"}),
        (f"/venues/{venue}/series", {**ok, "rrule": "FREQ=WEEKLY;COUNT=3", "programme_id": "99999999999"}),
        ("/series/99999999999/edit", {}),
        ("/series/1/cancel", {"reason": "x"}),
        ("/slots/99999999999/cancel", {"reason": "x"}),
        ("/slots/1/manage", {"start": "9", "end": "", "capacity": ""}),
        (f"/venues/{venue}/hours", {"opens_0": "nonsense"}),
        (f"/venues/{venue}/closures", {"day": "31/12"}),
        (f"/venues/{venue}/youth-days", {"weekday": "9"}),
    ]  # fmt: skip
    for url, data in posts:
        r = await page.post(url, data)
        assert r.status_code < 500, (url, r.status_code, r.text[:300])
        assert r.status_code in (303, 400, 403, 404, 409, 422), (url, r.status_code)
    assert await Slot.count() == 0


async def test_cancelling_while_classes_book_leaves_no_booking_and_no_place_held(world: World) -> None:
    staff = await user("staff_a")
    slot = await world.slot(capacity=400, starts_at=datetime(2027, 3, 10, 9, 30, tzinfo=TZ))
    teachers = ("teacher_a", "teacher_a2", "teacher_b")
    results = await asyncio.gather(
        *(world.book(slot["id"], students=20, chaperones=2, who=teachers[i % 3]) for i in range(9)),
        services.cancel_slot(staff, slot["id"], "台风预警"),
        *(world.book(slot["id"], students=20, chaperones=2, who=teachers[i % 3]) for i in range(9)),
    )
    replies = [r for r in results if isinstance(r, httpx.Response)]
    assert all(r.status_code in (201, 409) for r in replies), [r.text for r in replies]
    row = await Slot.select(Slot.booked, Slot.cancelled_at).where(Slot.id == slot["id"]).first()
    assert row is not None and row["cancelled_at"] is not None and row["booked"] == 0
    active = await Booking.count().where(
        (Booking.slot == slot["id"]) & Booking.status.is_in(["confirmed", "requested"])
    )
    assert active == 0
    summary = results[9]
    assert isinstance(summary, services.CancelSummary)
    assert summary.bookings == sum(1 for r in replies if r.status_code == 201)
