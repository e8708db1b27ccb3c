"""A `kepu serve` process killed with SIGKILL under a load of bookings, cancellations (with waiting-list
offers) and check-ins (issue 8, "Faults"): after a restart the books still balance and service resumes.

What must hold, whatever the kill cut off mid-transaction:
- each slot's `booked` equals the people of its confirmed and requested bookings plus the people its
  waiting-list offers hold (bookings/services.py HOLDS_PLACES, bookings/waitlist.py), within capacity;
- no booking is admitted beyond what it booked, and its admitted counts equal the sum of its admitted
  check-in rows;
- every answer the clients got is in the database (a 201 booking exists; a 200 cancel is cancelled);
- no e-mail is lost: every booking has its "confirmed" outbox row, every cancelled one its "cancelled"
  row, every offer its "waitlist_offer" row (they are written in the same transaction as the change).

SQLite runs one server (killed, then started again); PostgreSQL two, one of which is killed while the
other keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from accounts import services as accounts
from accounts.tables import User
from bookings import waitlist
from bookings.services import HOLDS_PLACES
from bookings.tables import Booking, CheckIn, WaitlistEntry
from messaging.tables import Outbox
from tests.servers import Server, server_count, start_servers, stop_servers
from tests.test_races import City, Reply, split
from venues.tables import Slot

pytestmark = pytest.mark.servers


@contextlib.contextmanager
def servers_that_may_be_killed(database_url: str, log_dir: Path) -> Iterator[list[Server]]:
    """Like tests.servers.running_servers, but a server the test killed is not held to exit status 0;
    the list may grow (a restarted server is appended)."""
    servers = start_servers(database_url, server_count(), log_dir)
    try:
        yield servers
    except BaseException:
        for server in servers:
            server.kill()
        raise
    stop_servers([s for s in servers if s.running()])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def give_teachers_addresses() -> None:
    for row in await User.select(User.id, User.username).where(User.role == "teacher"):
        await User.update({User.email: f"{row['username']}@school.example"}).where(User.id == row["id"])


async def check_the_books() -> list[str]:
    """Every invariant of the module docstring that does not hold, as sentences (empty: all hold)."""
    problems: list[str] = []
    bookings = await Booking.select(
        Booking.id,
        Booking.slot,
        Booking.status,
        Booking.students,
        Booking.chaperones,
        Booking.admitted_students,
        Booking.admitted_chaperones,
    )
    offers = await WaitlistEntry.select(
        WaitlistEntry.id, WaitlistEntry.offered_slot, WaitlistEntry.students, WaitlistEntry.chaperones
    ).where(WaitlistEntry.status == "offered")
    for slot in await Slot.select(Slot.id, Slot.booked, Slot.capacity):
        held = sum(
            b["students"] + b["chaperones"]
            for b in bookings
            if b["slot"] == slot["id"] and b["status"] in HOLDS_PLACES
        )
        held += sum(o["students"] + o["chaperones"] for o in offers if o["offered_slot"] == slot["id"])
        if slot["booked"] != held:
            problems.append(
                f"slot {slot['id']}: booked {slot['booked']}, but bookings and offers hold {held}"
            )
        if slot["booked"] > slot["capacity"]:
            problems.append(f"slot {slot['id']}: booked {slot['booked']} over capacity {slot['capacity']}")
    admissions: dict[int, list[int]] = {}
    for row in await CheckIn.select(CheckIn.booking, CheckIn.students, CheckIn.chaperones).where(
        (CheckIn.result == "admitted") & (CheckIn.needs_review == False)  # noqa: E712
    ):
        counted = admissions.setdefault(row["booking"], [0, 0])
        counted[0] += row["students"]
        counted[1] += row["chaperones"]
    mails = {
        (r["booking_id"], r["kind"])
        for r in await Outbox.select(Outbox.booking_id, Outbox.kind).where(Outbox.booking_id.is_not_null())
    }
    for b in bookings:
        admitted = [b["admitted_students"], b["admitted_chaperones"]]
        if admissions.get(b["id"], [0, 0]) != admitted:
            problems.append(
                f"booking {b['id']}: admitted {admitted}, check-in rows say {admissions.get(b['id'], [0, 0])}"
            )
        if admitted[0] > b["students"] or admitted[1] > b["chaperones"]:
            problems.append(f"booking {b['id']}: admitted {admitted} of {b['students']}+{b['chaperones']}")
        if (b["id"], "confirmed") not in mails:
            problems.append(f"booking {b['id']}: its confirmation e-mail is not in the outbox")
        if b["status"] == "cancelled" and (b["id"], "cancelled") not in mails:
            problems.append(f"booking {b['id']}: cancelled, but its e-mail is not in the outbox")
    offer_keys = {
        r["dedupe_key"] for r in await Outbox.select(Outbox.dedupe_key).where(Outbox.kind == "waitlist_offer")
    }
    for o in offers:
        if f"waitlist_offer:{o['id']}:{o['offered_slot']}" not in offer_keys:
            problems.append(f"waiting-list entry {o['id']}: offered, but its e-mail is not in the outbox")
    return problems


async def test_sigkill_under_load_then_restart_keeps_the_books(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with servers_that_may_be_killed(database_url, tmp_path / "servers") as servers:
        city = await City(servers, http, database_url).build(teachers=8, staff=True)
        await give_teachers_addresses()
        rng = random.Random(20261125)

        # A slot the burst fills; a full slot whose bookings are cancelled during the burst, with classes
        # waiting for it (each cancellation offers the freed places: a hold); and a slot at the door now.
        busy = await city.slot(150)
        wanted = await city.slot(40)
        wanted_bookings = [await city.book(i, wanted["id"], 9, 1) for i in range(4)]
        assert all(r.status == 201 for r in wanted_bookings), [r.body for r in wanted_bookings]
        for i in range(4, 8):
            teacher = await accounts.get_user_by_username(f"teacher{i}")
            assert teacher is not None
            await waitlist.join(
                teacher, waitlist.WaitlistForm(slot_id=wanted["id"], students=rng.randint(4, 9), chaperones=1)
            )
        today = await city.slot(200, starts_in=timedelta(minutes=30))
        door_bookings = [await city.book(i, today["id"], 20, 2) for i in range(7)]
        assert all(r.status == 201 for r in door_bookings), [r.body for r in door_bookings]
        later = door_bookings.pop()  # kept out of the burst: admitted after the restart
        await city.start_slot_now(today["id"])

        victim = servers[0]
        answered = 0
        enough = asyncio.Event()

        async def send(make: Any) -> Reply | None:
            nonlocal answered
            try:
                reply: Reply = await make
            except (TimeoutError, aiohttp.ClientError):
                return None  # cut off by the kill (or refused afterwards): no answer, no promise
            answered += 1
            if answered >= 25:
                enough.set()
            return reply

        requests: list[tuple[str, Any]] = []
        for i in range(150):
            requests.append(("book", city.book(i, busy["id"], *split(rng.randint(1, 4)))))
        for i, b in enumerate(wanted_bookings):
            requests.append(("cancel", city.call(
                "POST", f"/api/v1/bookings/{b.body['id']}/cancel", city.teachers[i], via=i + rng.randint(0, 1)
            )))  # fmt: skip
        for i in range(60):
            b = door_bookings[i % len(door_bookings)]
            requests.append(("scan", city.scan(i, b.body["code"], students=5, chaperones=rng.randint(0, 1))))
        rng.shuffle(requests)

        async def kill_when_busy() -> None:
            await enough.wait()
            victim.process.kill()  # SIGKILL: no shutdown, transactions cut off wherever they are

        killer = asyncio.create_task(kill_when_busy())
        replies = await asyncio.gather(*(send(make) for _, make in requests))
        await asyncio.wait_for(killer, 60)
        await asyncio.to_thread(victim.process.wait, 10)
        assert victim.process.returncode == -9

        kinds = [kind for kind, _ in requests]
        allowed = {"book": {201, 409}, "cancel": {200, 409}, "scan": {200, 409, 422}}
        bad = [
            (k, r.status, r.body)
            for k, r in zip(kinds, replies, strict=True)
            if r and r.status not in allowed[k]
        ]
        assert not bad, bad
        cut_off = sum(r is None for r in replies)
        assert cut_off, "the kill cut off no request, so the test proved nothing; make the burst longer"

        # Restart where the killed one ran; the books must balance before any new request runs.
        servers.extend(start_servers(database_url, 1, Path(victim.log).parent / "restarted"))
        assert await check_the_books() == []
        booked = {
            r.body["id"] for k, r in zip(kinds, replies, strict=True) if k == "book" and r and r.status == 201
        }
        in_db = {b["id"] for b in await Booking.select(Booking.id).where(Booking.slot == busy["id"])}
        assert booked <= in_db, f"bookings answered 201 but missing: {booked - in_db}"
        cancelled = {
            int(r.body["id"])
            for k, r in zip(kinds, replies, strict=True)
            if k == "cancel" and r and r.status == 200
        }
        statuses = {b["id"]: b["status"] for b in await Booking.select(Booking.id, Booking.status)}
        assert all(statuses[i] == "cancelled" for i in cancelled)

        # Service resumes on the restarted process: it books, cancels and admits.
        city.servers = [s for s in servers if s.running()]
        fresh = await city.slot(30)
        done = await city.book(0, fresh["id"], 10, 1)
        assert done.status == 201, done.body
        undo = await city.call("POST", f"/api/v1/bookings/{done.body['id']}/cancel", city.teachers[0], via=1)
        assert undo.status == 200, undo.body
        scan = await city.scan(0, later.body["code"], students=5, chaperones=1)
        assert (scan.status, scan.body.get("result")) == (200, "admitted"), scan.body
        rescan = await city.scan(1, later.body["qr_token"])
        assert (rescan.status, rescan.body.get("result")) == (409, "already_checked_in"), rescan.body
        assert await check_the_books() == []


async def test_the_book_check_notices_what_a_crash_could_break(database_url: str, client: Any) -> None:
    """check_the_books is not vacuous: a slot count off by one, a lost e-mail and an admission without
    its check-in row are each reported."""
    from tests.helpers import World

    w = await World(client).build()
    await give_teachers_addresses()
    slot = await w.slot(capacity=50)
    booking = (await w.book(slot["id"], 10, 1)).json()
    assert await check_the_books() == []

    await Slot.update({Slot.booked: Slot.booked + 1}).where(Slot.id == slot["id"])
    await Outbox.delete().where(Outbox.booking_id == booking["id"])
    await Booking.update({Booking.admitted_students: 3}).where(Booking.id == booking["id"])
    problems = await check_the_books()
    assert any(f"slot {slot['id']}: booked 12" in p for p in problems), problems
    assert any("confirmation e-mail" in p for p in problems), problems
    assert any("check-in rows say [0, 0]" in p for p in problems), problems
