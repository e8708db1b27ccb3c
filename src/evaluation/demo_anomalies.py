"""Demo additions (kepu/demo.py): a few suspicious admissions, so the auditor's anomaly page shows flags.

At the first venue, three classes of one slot are admitted seconds apart on one device (fast scans),
one of them twice (more people admitted than booked), and a fourth class is admitted the day after
its slot (outside the arrival window). At the second venue, a class booked after its slot had begun
is admitted. Everything is written through the ordinary tables and chained into the venues' ledgers.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bookings import keys
from bookings.tables import Booking, CheckIn
from bookings.tickets import PassClaims, issue_pass, new_pass_code
from core import clock
from core.db import write_transaction
from ledger import chain
from venues.tables import Slot, StaffMembership

# The planted check-ins' device names: the demo's own consistency test leaves them out on purpose.
DEVICE_PREFIX = "demo-door-"


async def add_demo_anomalies(venue_ids: list[int], now: datetime) -> int:
    """Suspicious admissions at the first one or two venues, in a past slot of this year; returns how
    many check-ins were written (0 when a venue has no staff or no booking to borrow a school from)."""
    key = await keys.ensure_key()
    today = clock.local(now).date()
    day = today - timedelta(days=3)
    if day.year != today.year:
        day = today  # early January: keep the flags in the year the dashboard opens on
    written = 0
    async with write_transaction():
        for n, venue_id in enumerate(venue_ids[:2]):
            staff = (
                await StaffMembership.select(StaffMembership.user)
                .where(StaffMembership.venue == venue_id)
                .first()
            )
            sample = (
                await Booking.select(Booking.school, Booking.teacher)
                .where(Booking.venue == venue_id)
                .order_by(Booking.id)
                .first()
            )
            if staff is None or sample is None:
                continue
            starts = datetime.combine(day, time(10, 0), tzinfo=clock.TZ)
            classes = [(30, 2), (28, 2), (32, 2), (20, 2)] if n == 0 else [(24, 2)]
            made = await Slot.insert(
                Slot(
                    venue=venue_id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=90),
                    capacity=150,
                    booked=sum(s + c for s, c in classes),
                    title="",
                    kind="school_visit",
                    created_at=starts - timedelta(days=30),
                )
            ).returning(Slot.id)
            slot_id = int(made[0]["id"])
            booking_ids = []
            for i, (students, chaperones) in enumerate(classes):
                code = new_pass_code()
                while await Booking.exists().where(Booking.code == code):
                    code = new_pass_code()
                # The second venue's class was booked twenty minutes after its slot began.
                created = starts + timedelta(minutes=20) if n == 1 else starts - timedelta(days=10, hours=i)
                rows = await Booking.insert(
                    Booking(
                        slot=slot_id,
                        venue=venue_id,
                        school=sample["school"],
                        teacher=sample["teacher"],
                        status="confirmed",
                        students=students,
                        chaperones=chaperones,
                        grade="五年级",
                        class_name=f"{i + 1}班",
                        grade_band="primary_high",
                        code=code,
                        admitted_students=students,
                        admitted_chaperones=chaperones,
                        created_at=created,
                        updated_at=created,
                    )
                ).returning(Booking.id)
                booking_ids.append(int(rows[0]["id"]))
                token = issue_pass(PassClaims(booking_ids[-1], venue_id, day), key)
                await Booking.update({Booking.qr_token: token}).where(Booking.id == booking_ids[-1])
            # (booking index, students, adults, scan time, device)
            if n == 0:
                door = starts - timedelta(minutes=10)
                scans = [
                    (0, 30, 2, door, f"{DEVICE_PREFIX}2"),
                    (1, 28, 2, door + timedelta(seconds=2), f"{DEVICE_PREFIX}2"),
                    (2, 32, 2, door + timedelta(seconds=3), f"{DEVICE_PREFIX}2"),
                    (0, 8, 0, starts + timedelta(minutes=25), f"{DEVICE_PREFIX}1"),
                    (3, 20, 2, starts + timedelta(days=1, minutes=5), f"{DEVICE_PREFIX}1"),
                ]
            else:
                scans = [(0, 24, 2, starts + timedelta(minutes=30), f"{DEVICE_PREFIX}1")]
            for i, students, chaperones, at, device in scans:
                await CheckIn.insert(
                    CheckIn(
                        booking=booking_ids[i],
                        venue=venue_id,
                        result="admitted",
                        students=students,
                        chaperones=chaperones,
                        staff=staff["user"],
                        device=device,
                        method="qr",
                        scanned_at=at,
                        created_at=at,
                    )
                )
                written += 1
            for i, bid in enumerate(booking_ids):
                first = min(at for j, _s, _c, at, _d in scans if j == i)
                await Booking.update({Booking.first_admitted_at: first}).where(Booking.id == bid)
        await chain.chain_bulk_loaded()
    return written
