"""Demo additions (kepu/demo.py): a full slot with a class on its waiting list, and a school with
strikes (a warning), so the waiting list and the sanctions can be seen at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bookings.tables import Booking, Strike, WaitlistEntry
from bookings.tickets import PassClaims, SigningKey, issue_pass, new_pass_code
from core import clock
from core.db import write_transaction
from venues.tables import Slot


async def add_waitlist_and_strikes(
    venue_id: int,
    booker: tuple[int, int],
    waiting: tuple[int, int],
    struck_school: int,
    key: SigningKey,
    now: datetime,
) -> None:
    """`booker` and `waiting` are (school id, teacher id); the struck school gets two late cancels."""
    day = clock.local(now).date() + timedelta(days=5)
    starts = datetime.combine(day, time(14, 0), tzinfo=clock.TZ)
    async with write_transaction():
        rows = await Slot.insert(
            Slot(
                venue=venue_id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=60,
                booked=60,
                title="",
                kind="school_visit",
                created_at=now - timedelta(days=10),
            )
        ).returning(Slot.id)
        slot_id = int(rows[0]["id"])
        code = new_pass_code()
        while await Booking.exists().where(Booking.code == code):
            code = new_pass_code()
        made = await Booking.insert(
            Booking(
                slot=slot_id,
                venue=venue_id,
                school=booker[0],
                teacher=booker[1],
                status="confirmed",
                students=56,
                chaperones=4,
                grade="五年级",
                class_name="1班",
                grade_band="primary_high",
                code=code,
                created_at=now - timedelta(days=6),
                updated_at=now - timedelta(days=6),
            )
        ).returning(Booking.id)
        booking_id = int(made[0]["id"])
        token = issue_pass(PassClaims(booking_id, venue_id, day), key)
        await Booking.update({Booking.qr_token: token}).where(Booking.id == booking_id)
        await WaitlistEntry.insert(
            WaitlistEntry(
                slot=slot_id,
                venue=venue_id,
                day=day,
                flexibility="day",
                school=waiting[0],
                teacher=waiting[1],
                students=30,
                chaperones=2,
                grade="四年级",
                class_name="2班",
                grade_band="primary_high",
                status="waiting",
                created_at=now - timedelta(days=2),
                updated_at=now - timedelta(days=2),
            )
        )
        past = (
            await Booking.select(Booking.id)
            .where((Booking.school == struck_school) & (Booking.created_at < now))
            .order_by(Booking.id)
            .limit(2)
        )
        for i, row in enumerate(past):
            await Strike.insert(
                Strike(
                    school=struck_school,
                    booking=row["id"],
                    kind="late_cancel",
                    created_at=now - timedelta(days=20 + 30 * i),
                )
            )
