"""A deterministic, city-sized Xiamen: ≈200 bases in six districts, 50,000 slots over a year, 1,000 schools,
300,000 bookings and ≈300,000 check-ins, written with bulk inserts (not the API) into SQLite or PostgreSQL.

    DATABASE_URL=sqlite:///bench/city.sqlite3 python -m bench.citygen --scale full --year 2025

The same seed gives the same city. Distributions follow what a city science association sees:
思明区 heaviest, school terms (March–early July, September–December) and weekday mornings,
a few popular venues taking most groups (Zipf), schools mostly visiting venues in their own district,
about 8% no-shows and 10% of classes arriving in two buses.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import math
import random
import sys
import time as wallclock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from accounts.passwords import hash_password
from accounts.tables import School, User
from bookings import keys
from bookings.tables import Booking, CheckIn
from bookings.tickets import PassClaims, issue_pass, new_pass_code
from core import clock
from core.db import database_lifespan, insert_chunked, reserve_ids, write_transaction
from ledger import chain
from venues.tables import Slot, StaffMembership, Venue

DISTRICTS = {"思明区": 0.32, "湖里区": 0.20, "集美区": 0.16, "海沧区": 0.10, "同安区": 0.11, "翔安区": 0.11}
KINDS = {
    "education_base": 0.40,
    "community_site": 0.20,
    "laboratory": 0.15,
    "museum": 0.10,
    "scientist_spirit_base": 0.10,
    "science_museum": 0.05,
}
CAPACITY = {
    "science_museum": (300, 400),
    "museum": (200, 300),
    "education_base": (150, 300),
    "laboratory": (120, 200),
    "scientist_spirit_base": (150, 250),
    "community_site": (120, 200),
}
STARTS = [
    (time(9, 0), 0.25),
    (time(9, 30), 0.3),
    (time(10, 0), 0.15),
    (time(14, 0), 0.15),
    (time(14, 30), 0.15),
]
GRADES = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "初一", "初二", "初三", "高一", "高二"]
PASSWORD = "kepu-bench-2026"


@dataclass(frozen=True)
class Scale:
    venues: int
    schools: int
    slots: int
    bookings: int


SCALES = {
    "full": Scale(venues=200, schools=1000, slots=50_000, bookings=300_000),
    "medium": Scale(venues=60, schools=300, slots=6_000, bookings=30_000),
    "small": Scale(venues=12, schools=30, slots=300, bookings=1_500),
}


@dataclass
class _SlotPlan:
    venue: int
    district: str
    start: datetime
    capacity: int
    booked: int = 0
    id: int = 0


@dataclass(frozen=True)
class _Class:
    """A class visit about to be written: slot, venue, school, counts, start, cancelled."""

    slot: int
    venue: int
    school: int
    students: int
    chaperones: int
    start: datetime
    cancelled: bool


@dataclass
class Counts:
    venues: int = 0
    schools: int = 0
    users: int = 0
    slots: int = 0
    bookings: int = 0
    checkins: int = 0
    seconds: float = 0.0


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _term_days(year: int) -> tuple[list[date], list[float]]:
    """Every weekday-weighted day of the year: school terms and weekdays carry most visits."""
    days, weights = [], []
    day = date(year, 1, 1)
    while day.year == year:
        in_term = (date(year, 3, 1) <= day <= date(year, 7, 10)) or day >= date(year, 9, 1)
        weekday = day.weekday() < 5
        days.append(day)
        weights.append((0.85 if in_term else 0.15) * (0.9 if weekday else 0.1))
        day += timedelta(days=1)
    return days, weights


async def generate(scale: Scale, year: int, seed: int = 2026) -> Counts:
    """Write the city into the current database (which should be empty); the counts written."""
    started = wallclock.perf_counter()
    rng = random.Random(seed)
    counts = Counts()
    key = await keys.ensure_key()
    registered = datetime(year - 1, 12, 1, 9, 0, tzinfo=clock.TZ)
    password_hash = await hash_password(PASSWORD)

    async with write_transaction():
        # Venues, with a popularity that decides how many slots (and so groups) each gets.
        venue_ids = await reserve_ids(Venue, scale.venues)
        venue_rows, venue_info = [], []
        # The first six cover every district and every kind; the rest follow the weights.
        kinds_first = list(KINDS)
        rng.shuffle(kinds_first)
        for n, vid in enumerate(venue_ids, 1):
            if n <= len(DISTRICTS):
                district, kind = list(DISTRICTS)[n - 1], kinds_first[n - 1]
            else:
                district, kind = _pick(rng, DISTRICTS), _pick(rng, KINDS)
            venue_rows.append(
                Venue(id=vid, name=f"{district}科普基地{n:03d}", kind=kind, district=district,
                      address=f"{district}科普路{n}号", created_at=registered)
            )  # fmt: skip
            venue_info.append((vid, district, kind))
        await insert_chunked(Venue, venue_rows)
        counts.venues = len(venue_rows)

        school_ids = await reserve_ids(School, scale.schools)
        school_district = {sid: _pick(rng, DISTRICTS) for sid in school_ids}
        await insert_chunked(
            School,
            [School(id=sid, name=f"{d}第{n}学校", district=d, created_at=registered)
             for n, (sid, d) in enumerate(school_district.items(), 1)],
        )  # fmt: skip
        counts.schools = len(school_ids)
        schools_by_district: dict[str, list[int]] = {}
        for sid, d in school_district.items():
            schools_by_district.setdefault(d, []).append(sid)

        # One teacher per school, one staff member per venue, one auditor; one shared password hash
        # (argon2id at production cost would take minutes for 1,200 accounts and measures nothing here).
        people: list[tuple[str, str, int | None]] = [
            (f"bench_t{n:04d}", "teacher", sid) for n, sid in enumerate(school_ids, 1)
        ]
        people += [(f"bench_s{n:03d}", "staff", None) for n in range(1, len(venue_ids) + 1)]
        people.append(("bench_auditor", "auditor", None))
        user_ids = await reserve_ids(User, len(people))
        await insert_chunked(
            User,
            [User(id=uid, username=name, password_hash=password_hash, role=role, display_name=name,
                  school=sid, created_at=registered)
             for uid, (name, role, sid) in zip(user_ids, people, strict=True)],
        )  # fmt: skip
        teacher_of = dict(zip(school_ids, user_ids[: len(school_ids)], strict=True))
        staff_ids = user_ids[len(school_ids) : len(school_ids) + len(venue_ids)]
        await insert_chunked(
            StaffMembership,
            [
                StaffMembership(user=uid, venue=vid, role="door")
                for uid, vid in zip(staff_ids, venue_ids, strict=True)
            ],
        )
        counts.users = len(people)

    # Slots: popular venues get more (Zipf over a shuffled order), on term weekdays, mostly mornings.
    order = list(range(len(venue_info)))
    rng.shuffle(order)
    popularity = [0.0] * len(venue_info)
    for rank, index in enumerate(order, 1):
        popularity[index] = 1 / rank**0.8
    days, day_weights = _term_days(year)
    start_times, start_weights = zip(*STARTS, strict=True)
    slot_plan = []
    for index in rng.choices(range(len(venue_info)), weights=popularity, k=scale.slots):
        vid, district, kind = venue_info[index]
        day = rng.choices(days, weights=day_weights)[0]
        start = datetime.combine(day, rng.choices(start_times, weights=start_weights)[0], tzinfo=clock.TZ)
        low, high = CAPACITY[kind]
        slot_plan.append(_SlotPlan(vid, district, start, rng.randrange(low, high + 1, 10)))
    slot_plan.sort(key=lambda p: (p.start, p.venue))

    async with write_transaction():
        slot_ids = await reserve_ids(Slot, len(slot_plan))
    for sid, plan in zip(slot_ids, slot_plan, strict=True):
        plan.id = sid

    # Bookings: each class picks a slot (weighted by how popular its venue is), from a school mostly
    # in the same district; a slot that is full sends the class to another.
    venue_pop = {venue_info[i][0]: popularity[i] for i in range(len(venue_info))}
    slot_weights = [venue_pop[p.venue] for p in slot_plan]
    cumulative = list(itertools.accumulate(slot_weights))
    now = clock.now()
    booking_rows: list[_Class] = []
    attempts = 0
    while len(booking_rows) < scale.bookings and attempts < scale.bookings * 10:
        attempts += 1
        plan = slot_plan[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        students = rng.randint(25, 45)
        chaperones = math.ceil(students / 20) + (1 if rng.random() < 0.3 else 0)
        if plan.booked + students + chaperones > plan.capacity:
            continue
        local = rng.random() < 0.7 and schools_by_district.get(plan.district)
        school = rng.choice(schools_by_district[plan.district] if local else school_ids)
        cancelled = rng.random() < 0.05
        if not cancelled:
            plan.booked += students + chaperones
        booking_rows.append(_Class(plan.id, plan.venue, school, students, chaperones, plan.start, cancelled))

    codes: set[str] = set()
    booking_objs, checkin_objs = [], []
    async with write_transaction():
        booking_ids = await reserve_ids(Booking, len(booking_rows))
    for bid, row in zip(booking_ids, booking_rows, strict=True):
        start = row.start
        code = new_pass_code()
        while code in codes:
            code = new_pass_code()
        codes.add(code)
        created = start - timedelta(days=rng.randint(4, 60), minutes=rng.randint(0, 600))
        students, chaperones = row.students, row.chaperones
        admitted_s = admitted_c = 0
        first_at = None
        if not row.cancelled and start < now and rng.random() >= 0.08:
            parts = 2 if rng.random() < 0.10 else 1
            arrived_s = students - (rng.randint(0, 3) if rng.random() < 0.2 else 0)
            arrived_c = chaperones
            first_at = start - timedelta(minutes=rng.randint(0, 25))
            split_s, split_c = (arrived_s // 2, arrived_c // 2) if parts == 2 else (arrived_s, arrived_c)
            pieces = [(split_s, split_c)] + (
                [(arrived_s - split_s, arrived_c - split_c)] if parts == 2 else []
            )
            for n, (s, c) in enumerate(pieces):
                if s + c == 0:
                    continue
                at = first_at + timedelta(minutes=12 * n)
                checkin_objs.append(
                    CheckIn(booking=bid, venue=row.venue, result="admitted", students=s, chaperones=c,
                            staff=None, device="bench", method="qr", scanned_at=at, created_at=at)
                )  # fmt: skip
            admitted_s, admitted_c = arrived_s, arrived_c
            if rng.random() < 0.04:  # an accidental rescan at the door, denied and kept
                checkin_objs.append(
                    CheckIn(booking=bid, venue=row.venue, result="already_checked_in", device="bench",
                            method="qr", scanned_at=first_at + timedelta(minutes=1),
                            created_at=first_at + timedelta(minutes=1))
                )  # fmt: skip
        booking_objs.append(
            Booking(
                id=bid, slot=row.slot, venue=row.venue, school=row.school,
                teacher=teacher_of[row.school],
                status="cancelled" if row.cancelled else "confirmed",
                students=students, chaperones=chaperones, grade=rng.choice(GRADES),
                class_name=f"{rng.randint(1, 12)}班", code=code,
                qr_token=issue_pass(PassClaims(bid, row.venue, start.astimezone(clock.TZ).date()), key),
                admitted_students=admitted_s, admitted_chaperones=admitted_c, first_admitted_at=first_at,
                created_at=created, updated_at=created,
                cancelled_at=created + timedelta(days=1) if row.cancelled else None,
            )
        )  # fmt: skip

    async with write_transaction():
        await insert_chunked(
            Slot,
            [Slot(id=p.id, venue=p.venue, starts_at=p.start, ends_at=p.start + timedelta(minutes=90),
                  capacity=p.capacity, booked=p.booked, title="科普参观", kind="school_visit",
                  created_at=registered)
             for p in slot_plan],
        )  # fmt: skip
        await insert_chunked(Booking, booking_objs, chunk=800)
        await insert_chunked(CheckIn, checkin_objs, chunk=1500)
        await chain.chain_bulk_loaded()  # the year's scans in each venue's hash chain, as kepu keeps them
    counts.slots, counts.bookings, counts.checkins = len(slot_plan), len(booking_objs), len(checkin_objs)
    counts.seconds = wallclock.perf_counter() - started
    return counts


async def _main(scale: str, year: int, seed: int) -> int:
    from kepu.cli import _migrate

    await _migrate()
    async with database_lifespan(pool_size=4):
        if await Venue.count() > 0:
            print("citygen: the database already has venues; use an empty one.", file=sys.stderr)
            return 1
        counts = await generate(SCALES[scale], year, seed)
    print(
        f"citygen ({scale}, {year}, seed {seed}): {counts.venues} venues, {counts.schools} schools, "
        f"{counts.users} users, {counts.slots} slots, {counts.bookings} bookings, "
        f"{counts.checkins} check-ins in {counts.seconds:.1f} s"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.citygen", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES), default="full")
    parser.add_argument("--year", type=int, default=clock.today().year - 1, help="default: last year")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    return asyncio.run(_main(args.scale, args.year, args.seed))


if __name__ == "__main__":
    sys.exit(main())
