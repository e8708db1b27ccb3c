"""Waitlist offers under real concurrent cancellations (one `kepu serve` on SQLite, two sharing the
database on PostgreSQL): freed places are never offered twice, every hold is counted in its slot,
and the oldest entries get them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from accounts import services as accounts
from accounts.tables import User
from bookings import waitlist
from bookings.tables import WaitlistEntry
from bookings.waitlist import WaitlistForm
from messaging.tables import Outbox
from tests.servers import Server
from tests.test_races import City, http, servers  # noqa: F401  (fixtures)
from venues.tables import Slot

pytestmark = pytest.mark.servers


@pytest.fixture
async def town(servers: list[Server], http: aiohttp.ClientSession, database_url: str) -> City:  # noqa: F811
    city = await City(servers, http, database_url).build(teachers=10)
    for i in range(10):  # an address each, so every offer is also an e-mail in the outbox
        await User.update({User.email: f"teacher{i}@school.example"}).where(User.username == f"teacher{i}")
    return city


async def join(username: str, slot_id: int, people: int, flexibility: str) -> int:
    teacher = await accounts.get_user_by_username(username)
    assert teacher is not None
    entry = await waitlist.join(
        teacher, WaitlistForm(slot_id=slot_id, students=people - 1, chaperones=1, flexibility=flexibility)
    )
    return entry.id


async def slot_booked(slot_id: int) -> int:
    row = await Slot.select(Slot.booked).where(Slot.id == slot_id).first()
    assert row is not None
    return int(row["booked"])


async def test_concurrent_cancellations_never_offer_places_twice(town: City) -> None:
    a = await town.slot(50)
    b = await town.slot(50)  # the same day: flexible entries may take either
    bookings: list[tuple[int, dict[str, Any]]] = []
    for i in range(10):
        slot = a if i < 5 else b
        r = await town.book(i, slot["id"], 9, 1)
        assert r.status == 201, r.body
        bookings.append((i, r.body))
    assert await slot_booked(a["id"]) == await slot_booked(b["id"]) == 50
    # Fourteen classes of 10 wait: flexible ones and ones that want only A or only B.
    entries: list[int] = []
    for k in range(14):
        teacher = f"teacher{k % 10}"
        if k < 10:
            entries.append(await join(teacher, a["id"], 10, "day" if k % 2 else "slot"))
        else:
            entries.append(await join(teacher, b["id"], 10, "slot"))

    replies = await asyncio.gather(
        *(
            town.call("POST", f"/api/v1/bookings/{body['id']}/cancel", town.teachers[i], via=i)
            for i, body in bookings
        )
    )
    assert all(r.status == 200 for r in replies), [(r.status, r.body) for r in replies]

    rows = await WaitlistEntry.select(
        WaitlistEntry.id,
        WaitlistEntry.status,
        WaitlistEntry.offered_slot,
        WaitlistEntry.students,
        WaitlistEntry.chaperones,
    ).order_by(WaitlistEntry.id)
    offered = [r for r in rows if r["status"] == "offered"]
    assert {r["status"] for r in rows} <= {"offered", "waiting"}
    # Every held place is counted in its slot, and no slot holds more than its capacity.
    for slot in (a, b):
        held = sum(r["students"] + r["chaperones"] for r in offered if r["offered_slot"] == slot["id"])
        assert await slot_booked(slot["id"]) == held <= 50
    # 100 places were freed and every class needs 10: all ten offers made, each entry at most once.
    assert len(offered) == 10
    mails = await Outbox.select(Outbox.dedupe_key).where(Outbox.kind == "waitlist_offer")
    assert len(mails) == len(offered)
    assert sorted(m["dedupe_key"].split(":")[1] for m in mails) == sorted(str(r["id"]) for r in offered)
    # Oldest first: A's places went to the ten entries that joined from A (flexible or not), since
    # B's own strict entries came later; B's places went to the flexible ones or B's strict ones.
    waiting = [r["id"] for r in rows if r["status"] == "waiting"]
    assert len(waiting) == 4
    for r in rows:
        if r["status"] == "offered" and r["id"] in entries[10:]:
            assert r["offered_slot"] == b["id"]
