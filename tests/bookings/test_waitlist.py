"""The waiting list holds a class, not a seat: offers in order, skipping entries that do not fit,
holds counted in the slot, acceptance, decline, leaving, lapse to the next, and any-slot-that-day
(both engines)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from accounts import services as accounts
from accounts.schemas import UserView
from accounts.tables import User
from bookings import waitlist
from bookings.services import BookingError
from bookings.tables import Booking, WaitlistEntry
from bookings.waitlist import WaitlistError, WaitlistForm
from core import clock
from core.errors import NotFound
from messaging import worker
from messaging.tables import Outbox
from tests.api_support import at, refresh_tokens
from tests.conftest import Clock
from tests.helpers import World, make_user
from venues.tables import Slot


async def actor(username: str) -> UserView:
    user = await accounts.get_user_by_username(username)
    assert user is not None
    return user


async def setup(client: httpx.AsyncClient, frozen: Clock, **rules: object) -> World:
    frozen.set(at(8))  # 2030-05-20
    w = await World(client).build()
    for i in range(3):
        uid = await make_user(f"teacher_w{i}", "teacher", school=f"湖里实验小学{i}", district="湖里区")
        await User.update({User.email: f"teacher_w{i}@school.example"}).where(User.id == uid)
    if rules:
        r = await w.client.patch(f"/api/v1/venues/{w.venue_a}", json=rules, headers=w.h["staff_a"])
        assert r.status_code == 200, r.text
    return w


async def full_slot(
    w: World, capacity: int = 60, days: int = 3, hour: int = 10
) -> tuple[dict[str, Any], Any]:
    slot = await w.slot(capacity=capacity, starts_at=at(hour, days=days), ends_at=at(hour + 2, days=days))
    r = await w.book(slot["id"], capacity - 4, 4, who="teacher_b")
    assert r.status_code == 201, r.text
    return slot, r.json()


async def join(who: str, slot_id: int, students: int, chaperones: int = 2, flex: str = "slot") -> Any:
    return await waitlist.join(
        await actor(who),
        WaitlistForm(slot_id=slot_id, students=students, chaperones=chaperones, flexibility=flex),
    )


async def booked(slot_id: int) -> int:
    row = await Slot.select(Slot.booked).where(Slot.id == slot_id).first()
    assert row is not None
    return int(row["booked"])


async def status(entry_id: int) -> str:
    row = await WaitlistEntry.select(WaitlistEntry.status).where(WaitlistEntry.id == entry_id).first()
    assert row is not None
    return str(row["status"])


async def test_first_fitting_entry_is_offered_and_the_hold_counts(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await setup(client, frozen)
    slot, big = await full_slot(w, capacity=60)
    first = await join("teacher_w0", slot["id"], 50)  # does not fit 32 freed places: skipped
    second = await join("teacher_w1", slot["id"], 28)  # 30 people
    third = await join("teacher_w2", slot["id"], 18)  # 20 people; 2 left after second: not offered
    assert (first.position, second.position, third.position) == (1, 2, 3)
    # Another teacher frees 32 places by lowering their numbers.
    r = await client.patch(f"/api/v1/bookings/{big['id']}", json={"students": 24}, headers=w.h["teacher_b"])
    assert r.status_code == 200, r.text
    assert await status(first.id) == "waiting"
    assert await status(second.id) == "offered"
    assert await status(third.id) == "waiting"
    assert await booked(slot["id"]) == 28 + 30  # the hold is counted: nobody else can take the places
    api = (await w.get("auditor", f"/api/v1/slots/{slot['id']}")).json()
    assert api["remaining"] == 2
    # Nobody can book the held places.
    r = await w.book(slot["id"], 10, 1, who="teacher_a")
    assert r.status_code == 409
    mails = await Outbox.select(Outbox.kind, Outbox.user, Outbox.recipient, Outbox.body).where(
        Outbox.kind == "waitlist_offer"
    )
    assert len(mails) == 1 and mails[0]["user"] == second.teacher_id
    assert mails[0]["recipient"] == "teacher_w1@school.example"
    assert f"/waitlist/{second.id}" in mails[0]["body"]
    seen = await waitlist.get_entry(await actor("teacher_w1"), second.id)
    assert seen.offer_expires_at == at(8) + timedelta(hours=24)
    # Accepting turns the hold into a confirmed booking with the reserved places.
    booking_id = await waitlist.accept(await actor("teacher_w1"), second.id)
    row = (
        await Booking.select(Booking.status, Booking.students, Booking.chaperones, Booking.qr_token)
        .where(Booking.id == booking_id)
        .first()
    )
    assert (
        row is not None and row["status"] == "confirmed" and (row["students"], row["chaperones"]) == (28, 2)
    )
    assert row["qr_token"].startswith("KP1.")
    assert await booked(slot["id"]) == 58
    assert await status(second.id) == "booked"
    with pytest.raises(WaitlistError) as e:
        await waitlist.accept(await actor("teacher_w1"), second.id)
    assert e.value.code == "no_offer"


async def test_lapsed_hold_passes_to_the_next(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot, big = await full_slot(w, capacity=40)
    first = await join("teacher_w0", slot["id"], 28)
    second = await join("teacher_w1", slot["id"], 28)
    assert (await w.post("teacher_b", f"/api/v1/bookings/{big['id']}/cancel")).status_code == 200
    assert await status(first.id) == "offered" and await status(second.id) == "waiting"
    frozen.advance(timedelta(hours=23))
    assert await waitlist.expire_holds() == 0
    frozen.advance(timedelta(hours=1, seconds=1))
    assert waitlist.expire_holds in worker.JOBS  # `kepu worker` runs it every pass
    report = await worker.run_pass()
    assert not report.jobs_failed
    assert await status(first.id) == "expired" and await status(second.id) == "offered"
    assert await booked(slot["id"]) == 30
    with pytest.raises(WaitlistError) as e:
        await waitlist.accept(await actor("teacher_w0"), first.id)
    assert e.value.code == "no_offer"
    # A lapsed offer cannot be accepted even before the worker runs.
    frozen.advance(timedelta(hours=25))
    await refresh_tokens(w)
    with pytest.raises(WaitlistError) as e:
        await waitlist.accept(await actor("teacher_w1"), second.id)
    assert e.value.code == "offer_lapsed"
    assert await status(second.id) == "expired" and await booked(slot["id"]) == 0


async def test_hold_ends_no_later_than_the_slot_start(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot, big = await full_slot(w, capacity=40, days=0, hour=14)  # today 14:00, now 08:00
    entry = await join("teacher_w0", slot["id"], 28)
    assert (await w.post("teacher_b", f"/api/v1/bookings/{big['id']}/cancel")).status_code == 200
    seen = await waitlist.get_entry(await actor("teacher_w0"), entry.id)
    assert seen.status == "offered" and seen.offer_expires_at == at(14)


async def test_decline_and_leave_release_to_the_next(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot, big = await full_slot(w, capacity=40)
    a = await join("teacher_w0", slot["id"], 28)
    b = await join("teacher_w1", slot["id"], 28)
    c = await join("teacher_w2", slot["id"], 28)
    assert (await w.post("teacher_b", f"/api/v1/bookings/{big['id']}/cancel")).status_code == 200
    assert await status(a.id) == "offered"
    # Only the entry's own teacher may answer.
    with pytest.raises(NotFound):
        await waitlist.decline(await actor("teacher_w1"), a.id)
    await waitlist.decline(await actor("teacher_w0"), a.id)
    assert (await status(a.id), await status(b.id)) == ("declined", "offered")
    await waitlist.leave(await actor("teacher_w1"), b.id)  # leaving with an offer releases it
    assert (await status(b.id), await status(c.id)) == ("left", "offered")
    assert await booked(slot["id"]) == 30
    await waitlist.leave(await actor("teacher_w2"), c.id)
    assert await booked(slot["id"]) == 0
    with pytest.raises(WaitlistError):
        await waitlist.leave(await actor("teacher_w2"), c.id)


async def test_any_slot_that_day(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    morning, _ = await full_slot(w, capacity=40, hour=9)
    afternoon = await w.slot(capacity=40, starts_at=at(14, days=3), ends_at=at(16, days=3))
    other_day = await w.slot(capacity=40, starts_at=at(14, days=4), ends_at=at(16, days=4))
    pm = (await w.book(afternoon["id"], 36, 2, who="teacher_a")).json()
    other = (await w.book(other_day["id"], 36, 2, who="teacher_a2")).json()
    strict = await join("teacher_w0", morning["id"], 20, flex="slot")
    flexible = await join("teacher_w1", morning["id"], 20, flex="day")
    # Places on another day are nobody's on this list.
    assert (await w.post("teacher_a2", f"/api/v1/bookings/{other['id']}/cancel")).status_code == 200
    assert await status(flexible.id) == "waiting"
    # The afternoon of the same day frees up: only the flexible entry may take it.
    assert (await w.post("teacher_a", f"/api/v1/bookings/{pm['id']}/cancel")).status_code == 200
    assert (await status(strict.id), await status(flexible.id)) == ("waiting", "offered")
    seen = await waitlist.get_entry(await actor("teacher_w1"), flexible.id)
    assert seen.offered_slot_id == afternoon["id"]
    booking_id = await waitlist.accept(await actor("teacher_w1"), flexible.id)
    row = await Booking.select(Booking.slot).where(Booking.id == booking_id).first()
    assert row == {"slot": afternoon["id"]}


async def test_request_mode_venue_makes_a_request(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen)
    slot, big = await full_slot(w, capacity=40)
    await w.client.patch(
        f"/api/v1/venues/{w.venue_a}", json={"approval_mode": "request"}, headers=w.h["staff_a"]
    )
    entry = await join("teacher_w0", slot["id"], 28)
    assert (await w.post("teacher_b", f"/api/v1/bookings/{big['id']}/cancel")).status_code == 200
    booking_id = await waitlist.accept(await actor("teacher_w0"), entry.id)
    row = await Booking.select(Booking.status).where(Booking.id == booking_id).first()
    assert row == {"status": "requested"}
    # Staff declining the request frees the places for the list again.
    again = await join("teacher_w1", slot["id"], 28)
    r = await w.post("staff_a", f"/api/v1/bookings/{booking_id}/decline", {"reason": "馆内维修"})
    assert r.status_code == 200, r.text
    assert await status(again.id) == "offered"


async def test_join_rules(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await setup(client, frozen, students_per_adult=20)
    slot, _ = await full_slot(w, capacity=60)
    roomy = await w.slot(capacity=60, starts_at=at(10, days=5), ends_at=at(12, days=5))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"slot_id": slot["id"], "students": 0, "chaperones": 0}, "nobody"),
        ({"slot_id": slot["id"], "students": 30, "chaperones": 2, "flexibility": "week"}, "bad_flexibility"),
        ({"slot_id": roomy["id"], "students": 30, "chaperones": 2}, "has_room"),
        ({"slot_id": slot["id"], "students": 70, "chaperones": 4}, "too_large"),
    ]
    teacher = await actor("teacher_w0")
    for body, code in cases:
        with pytest.raises(WaitlistError) as e:
            await waitlist.join(teacher, WaitlistForm(**body))
        assert e.value.code == code, body
        assert e.value.message()
    with pytest.raises(BookingError) as b:
        await waitlist.join(teacher, WaitlistForm(slot_id=slot["id"], students=50, chaperones=1))
    assert b.value.code == "too_few_adults"
    await join("teacher_w0", slot["id"], 30)
    with pytest.raises(WaitlistError) as e:
        await join("teacher_w0", slot["id"], 30)
    assert e.value.code == "already_waiting"
    frozen.set(clock.as_aware(at(10, days=3)))
    with pytest.raises(WaitlistError) as e:
        await join("teacher_w1", slot["id"], 30)
    assert e.value.code == "slot_started"


async def test_the_demo_has_a_full_slot_with_a_class_waiting_and_a_warned_school(fresh_db: str) -> None:
    from bookings import sanctions
    from bookings.tables import Strike
    from core.db import database_lifespan
    from kepu.demo import load_demo

    async with database_lifespan():
        await load_demo()
        entry = await WaitlistEntry.select(WaitlistEntry.slot, WaitlistEntry.status).first()
        assert entry is not None and entry["status"] == "waiting"
        slot = await Slot.select(Slot.capacity, Slot.booked).where(Slot.id == entry["slot"]).first()
        assert slot is not None and slot["booked"] == slot["capacity"]
        struck = await Strike.select(Strike.school).first()
        assert struck is not None
        standing = await sanctions.sanction_of(struck["school"])
        assert standing.warned and not standing.restricted


async def test_a_cancelled_slot_closes_its_holds_and_strict_entries(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = await setup(client, frozen)
    morning, big = await full_slot(w, capacity=40, hour=9)
    held = await join("teacher_w0", morning["id"], 28)
    strict = await join("teacher_w1", morning["id"], 8, flex="slot")
    flexible = await join("teacher_w2", morning["id"], 8, flex="day")
    assert (await w.post("teacher_b", f"/api/v1/bookings/{big['id']}/cancel")).status_code == 200
    assert await status(held.id) == "offered"
    # The venue cancels the slot (timetable's cancel calls slot_cancelled in its transaction).
    await Slot.update({Slot.cancelled_at: clock.now()}).where(Slot.id == morning["id"])
    assert await waitlist.slot_cancelled(morning["id"]) == 2
    assert (await status(held.id), await status(strict.id), await status(flexible.id)) == (
        "closed",
        "closed",
        "waiting",
    )
    assert await booked(morning["id"]) == 0
    with pytest.raises(WaitlistError) as e:
        await waitlist.accept(await actor("teacher_w0"), held.id)
    assert e.value.code == "no_offer"
