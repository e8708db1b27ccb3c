"""Data shapes at the bookings service boundary (API bodies and page forms alike)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.schemas import Count, Text200


class BookingForm(msgspec.Struct):
    slot_id: int
    students: Count
    chaperones: Count
    grade: Text200 | None = None
    class_name: Text200 | None = None


class BookingView(msgspec.Struct):
    id: int
    slot_id: int
    venue_id: int
    venue_name: str
    venue_address: str
    school_id: int
    school_name: str
    teacher_id: int
    teacher_name: str
    status: str
    students: int
    chaperones: int
    grade: str
    class_name: str
    code: str
    qr_token: str
    starts_at: datetime
    ends_at: datetime
    slot_title: str
    admitted_students: int
    admitted_chaperones: int
    created_at: datetime
    cancelled_at: datetime | None

    @property
    def people(self) -> int:
        return self.students + self.chaperones

    @property
    def admitted(self) -> int:
        return self.admitted_students + self.admitted_chaperones


class CheckInForm(msgspec.Struct):
    token: Text200
    students: Count | None = None
    chaperones: Count | None = None
    device: Text200 = ""


class CheckInOutcome(msgspec.Struct, omit_defaults=True):
    """What the door is told: the result code, and for the caller's own venue, the booking it concerns."""

    result: str
    status_code: int
    detail: str
    booking_id: int | None = None
    students: int | None = None
    chaperones: int | None = None
    admitted_students: int | None = None
    admitted_chaperones: int | None = None
    booked_students: int | None = None
    booked_chaperones: int | None = None
    school_name: str | None = None
    class_name: str | None = None
    grade: str | None = None
