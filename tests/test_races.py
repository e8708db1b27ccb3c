"""Races against real `kepu serve` processes: simultaneous bookings, simultaneous scans, SIGTERM mid-burst.

The requests go over real sockets to one server on SQLite and to two servers sharing the database
on PostgreSQL (round-robin), all fired at once with aiohttp, so the processes' event loops, the
database's locking and the services' conditional UPDATEs are what keep the invariants.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from accounts import services as accounts
from bookings.tables import Booking, CheckIn
from core import clock
from tests.helpers import PASSWORD, iso, make_user
from tests.servers import Server, run_kepu, running_servers, server_count
from venues.tables import Slot

pytestmark = pytest.mark.servers

SCHOOLS = [
    ("厦门市第一中学", "思明区"),
    ("集美中学", "集美区"),
    ("湖里实验小学", "湖里区"),
    ("同安一中", "同安区"),
]


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    server: str = ""
    done_at: float = 0.0
    people: int = 0


@dataclass
class City:
    """An auditor, one venue, teachers of four schools and, for check-in, the venue's door account."""

    servers: list[Server]
    http: aiohttp.ClientSession
    database_url: str
    venue_id: int = 0
    auditor: dict[str, str] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)
    teachers: list[dict[str, str]] = field(default_factory=list)

    def server(self, via: int) -> str:
        """Request number `via` goes to this server (round-robin)."""
        return self.servers[via % len(self.servers)].url

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None, *, via: int = 0
    ) -> Reply:
        server = self.server(via)
        async with self.http.request(method, server + path, json=body, headers=headers) as r:
            text = await r.text()
        try:
            data = json.loads(text)
        except ValueError:
            data = {"not_json": text[:500]}
        return Reply(r.status, data if isinstance(data, dict) else {"json": data}, server, time.monotonic())

    async def sign_in(self, username: str, via: int = 0) -> dict[str, str]:
        form = {"username": username, "password": PASSWORD}
        async with self.http.post(self.server(via) + "/api/v1/auth/token", data=form) as r:
            assert r.status == 200, await r.text()
            return {"Authorization": f"Bearer {(await r.json())['access_token']}"}

    async def build(self, teachers: int = 10, staff: bool = False) -> City:
        """`teachers` teachers; with `staff`, the venue's door account, added through `kepu user add`."""
        await make_user("auditor", "auditor")
        self.auditor = await self.sign_in("auditor")
        r = await self.call(
            "POST",
            "/api/v1/venues",
            self.auditor,
            {"name": "厦门科技馆", "kind": "science_museum", "district": "思明区", "address": "体育路95号"},
        )
        assert r.status == 201, r.body
        self.venue_id = r.body["id"]
        names = [f"teacher{i}" for i in range(teachers)]
        schools = [SCHOOLS[i % len(SCHOOLS)] for i in range(teachers)]
        for school, district in dict.fromkeys(schools):  # registered once, before the teachers race
            await accounts.find_or_create_school(school, district)
        made = [
            make_user(name, "teacher", school=s, district=d)
            for name, (s, d) in zip(names, schools, strict=True)
        ]
        if staff:
            cli = f"user add door1 --password {PASSWORD} --role staff --venue {self.venue_id}"
            made.append(self.kepu(*cli.split()))
        await asyncio.gather(*made)
        tokens = await asyncio.gather(*(self.sign_in(n, via=i) for i, n in enumerate(names)))
        self.teachers = list(tokens)
        if staff:
            self.staff = await self.sign_in("door1", via=1)
        return self

    async def kepu(self, *args: str) -> None:
        done = await asyncio.to_thread(run_kepu, self.database_url, *args)
        assert done.returncode == 0, f"kepu {' '.join(args)}: {done.stderr}"

    async def slot(self, capacity: int, starts_in: timedelta = timedelta(days=3)) -> dict[str, Any]:
        starts = clock.now() + starts_in
        r = await self.call(
            "POST",
            f"/api/v1/venues/{self.venue_id}/slots",
            self.auditor,
            {"starts_at": iso(starts), "ends_at": iso(starts + timedelta(hours=2)), "capacity": capacity},
        )
        assert r.status == 201, r.body
        return r.body

    async def book(self, i: int, slot_id: int, students: int, chaperones: int) -> Reply:
        """Booking number i: the teacher and server chosen round-robin."""
        reply = await self.call(
            "POST",
            "/api/v1/bookings",
            self.teachers[i % len(self.teachers)],
            {"slot_id": slot_id, "students": students, "chaperones": chaperones},
            via=i,
        )
        reply.people = students + chaperones
        return reply

    async def scan(self, i: int, token: str, **counts: int) -> Reply:
        return await self.call("POST", "/api/v1/checkins", self.staff, {"token": token, **counts}, via=i)

    async def start_slot_now(self, slot_id: int) -> None:
        """Move the slot to start now (it must be today for check-in; bookings close at the start)."""
        now = clock.now()
        await Slot.update({Slot.starts_at: now, Slot.ends_at: now + timedelta(hours=2)}).where(
            Slot.id == slot_id
        )


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Ready servers on the test's database; each must exit 0 within 20 s of SIGTERM (tests/servers.py)."""
    with running_servers(database_url, server_count(), tmp_path / "servers") as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # No connection limit and no reuse: every request of a burst is on its own socket, sent at once.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


@pytest.fixture
async def city(servers: list[Server], http: aiohttp.ClientSession, database_url: str) -> City:
    """Ten teachers of four schools, for the booking races."""
    return await City(servers, http, database_url).build(teachers=10)


@pytest.fixture
async def door(servers: list[Server], http: aiohttp.ClientSession, database_url: str) -> City:
    """One teacher and the venue's door account, for the check-in races."""
    return await City(servers, http, database_url).build(teachers=1, staff=True)


def split(people: int) -> tuple[int, int]:
    """Students and accompanying adults for a group of `people` (about one adult per five)."""
    adults = people // 5
    return people - adults, adults


async def confirmed_in_db(slot_id: int) -> dict[int, int]:
    rows = await Booking.select(Booking.id, Booking.students, Booking.chaperones).where(
        (Booking.slot == slot_id) & (Booking.status == "confirmed")
    )
    return {r["id"]: r["students"] + r["chaperones"] for r in rows}


async def slot_booked_in_db(slot_id: int) -> int:
    row = await Slot.select(Slot.booked).where(Slot.id == slot_id).first()
    assert row is not None
    return int(row["booked"])


async def test_simultaneous_bookings_never_oversell(city: City) -> None:
    capacity = 100
    slot = await city.slot(capacity)
    rng = random.Random(20261124)
    sizes = [rng.randint(1, 9) for _ in range(120)]
    replies = await asyncio.gather(*(city.book(i, slot["id"], *split(n)) for i, n in enumerate(sizes)))

    assert sorted({r.status for r in replies}) in ([201, 409], [201]), [(r.status, r.body) for r in replies]
    accepted = [r for r in replies if r.status == 201]
    rejected = [r for r in replies if r.status == 409]
    assert all(r.body["status"] == "confirmed" for r in accepted)
    assert all(r.body["status_code"] == 409 and r.body["detail"] for r in rejected)
    by_responses = sum(r.people for r in accepted)

    fresh = (await city.call("GET", f"/api/v1/slots/{slot['id']}", city.auditor, via=1)).body
    in_db = await confirmed_in_db(slot["id"])
    assert by_responses <= capacity
    assert fresh["booked"] == by_responses == sum(in_db.values()) == await slot_booked_in_db(slot["id"])
    assert fresh["remaining"] == capacity - fresh["booked"]
    assert sorted(in_db) == sorted(r.body["id"] for r in accepted)
    assert rejected, "the demand was several times the capacity, so some bookings must be refused"
    assert fresh["remaining"] < min(r.people for r in rejected), (
        f"{fresh['remaining']} places left, yet a request for {min(r.people for r in rejected)} was refused"
    )


async def test_the_same_pass_scanned_at_two_doors_admits_once(door: City) -> None:
    slot = await door.slot(100, starts_in=timedelta(minutes=10))
    booking = await door.book(0, slot["id"], 30, 3)
    assert booking.status == 201, booking.body
    await door.start_slot_now(slot["id"])
    token = booking.body["qr_token"]

    replies = await asyncio.gather(*(door.scan(i, token) for i in range(10)))

    outcomes = sorted((r.status, r.body.get("result")) for r in replies)
    assert outcomes == [(200, "admitted")] + [(409, "already_checked_in")] * 9, [r.body for r in replies]
    seen = (await door.call("GET", f"/api/v1/bookings/{booking.body['id']}", door.staff, via=1)).body
    assert (seen["admitted_students"], seen["admitted_chaperones"]) == (30, 3)
    admissions = await CheckIn.select(CheckIn.students, CheckIn.chaperones).where(
        (CheckIn.booking == booking.body["id"]) & (CheckIn.result == "admitted")
    )
    assert admissions == [{"students": 30, "chaperones": 3}]


async def test_a_class_arriving_in_parts_is_admitted_at_most_in_full(door: City) -> None:
    slot = await door.slot(100, starts_in=timedelta(minutes=10))
    booking = await door.book(0, slot["id"], 40, 4)
    assert booking.status == 201, booking.body
    await door.start_slot_now(slot["id"])

    replies = await asyncio.gather(
        *(door.scan(i, booking.body["code"], students=10, chaperones=1) for i in range(8))
    )

    outcomes = [(r.status, r.body.get("result")) for r in replies]
    assert outcomes.count((200, "admitted")) == 4, [r.body for r in replies]
    assert set(outcomes) <= {(200, "admitted"), (422, "too_many"), (409, "already_checked_in")}, [
        r.body for r in replies
    ]
    seen = (await door.call("GET", f"/api/v1/bookings/{booking.body['id']}", door.staff, via=1)).body
    assert (seen["admitted_students"], seen["admitted_chaperones"]) == (40, 4)
    admissions = await CheckIn.select(CheckIn.students, CheckIn.chaperones).where(
        (CheckIn.booking == booking.body["id"]) & (CheckIn.result == "admitted")
    )
    assert admissions == [{"students": 10, "chaperones": 1}] * 4


async def test_sigterm_during_a_burst_finishes_what_it_answers(city: City) -> None:
    capacity = 200
    slot = await city.slot(capacity)
    victim = city.servers[0]
    rng = random.Random(7)
    sizes = [rng.randint(1, 4) for _ in range(160)]
    answered = asyncio.Event()
    sigterm_at = 0.0

    async def book(i: int, people: int) -> Reply | None:
        try:
            reply = await city.book(i, slot["id"], *split(people))
        except (TimeoutError, aiohttp.ClientError):
            return None  # refused or cut off before an answer: allowed once the server is stopping
        answered.set()
        return reply

    async def stop_when_busy() -> None:
        nonlocal sigterm_at
        await answered.wait()
        victim.terminate()
        sigterm_at = time.monotonic()

    stopper = asyncio.create_task(stop_when_busy())
    replies = await asyncio.gather(*(book(i, n) for i, n in enumerate(sizes)))
    if not stopper.done():
        stopper.cancel()
        pytest.fail("no booking of the burst was answered")
    status = await asyncio.to_thread(victim.wait_exit, 20)

    assert status is not None, f"kepu serve still ran 20 s after SIGTERM; its output:\n{victim.output()}"
    assert status == 0, (
        f"kepu serve exited with status {status} after SIGTERM; its output:\n{victim.output()}"
    )
    got = [r for r in replies if r is not None]
    assert {r.status for r in got} <= {201, 409}, [
        (r.status, r.body) for r in got if r.status not in (201, 409)
    ]
    finished = [r for r in got if r.server == victim.url and r.done_at > sigterm_at]
    assert finished, "no request was still in flight at SIGTERM, so the test proved nothing"
    in_db = await confirmed_in_db(slot["id"])
    assert {r.body["id"] for r in got if r.status == 201} <= set(in_db)
    assert await slot_booked_in_db(slot["id"]) == sum(in_db.values()) <= capacity
