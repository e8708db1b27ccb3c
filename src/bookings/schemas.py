"""Data shapes at the bookings service boundary (API bodies and page forms alike)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from core.schemas import Buses, ClockTime, Count, GradeBand, Phone, Text200

# Chosen by the scanning device (a UUID or similar); the server applies each nonce once.
Nonce = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class BookingForm(msgspec.Struct):
    slot_id: int
    students: Count
    chaperones: Count
    grade: Text200 | None = None
    class_name: Text200 | None = None
    grade_band: GradeBand | None = None
    lead_teacher_name: Text200 | None = None
    lead_teacher_phone: Phone | None = None
    buses: Buses | None = None
    arrival_time: ClockTime | None = None
    lunch_space: bool = False
    accessibility: Text200 | None = None
    special_requests: Text200 | None = None


class HeadcountForm(msgspec.Struct):
    """Only the numbers sent change."""

    students: Count | None = None
    chaperones: Count | None = None


class DeclineForm(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]


class ReverseForm(msgspec.Struct):
    """A supervisor's reason for reversing an admission (kept in the audit trail)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]


class CheckInView(msgspec.Struct):
    """One scan at the door as the audit trail shows it: admitted or denied, and any reversal."""

    id: int
    booking_id: int | None
    venue_id: int | None
    result: str
    students: int
    chaperones: int
    staff_id: int | None
    staff_name: str | None
    device: str
    offline: bool
    needs_review: bool
    scanned_at: datetime | None
    created_at: datetime
    reversed: bool
    reversed_at: datetime | None
    reversed_by_id: int | None
    reversed_by_name: str | None
    reversal_reason: str


class CheckInList(msgspec.Struct):
    items: list[CheckInView]


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
    grade_band: str | None
    decline_reason: str
    lead_teacher_name: str
    lead_teacher_phone: str
    buses: int | None
    arrival_time: str
    lunch_space: bool
    accessibility: str
    special_requests: str
    code: str
    qr_token: str
    starts_at: datetime
    ends_at: datetime
    slot_title: str
    admitted_students: int
    admitted_chaperones: int
    created_at: datetime
    cancelled_at: datetime | None
    final_count_until: date | None = None  # the last day the group may get smaller (None: always)
    free_cancel_until: date | None = None  # the last day cancelling is free (None: always)
    programme_id: int | None = None  # the slot's programme, whose rules override the venue's
    programme_title: str | None = None
    room_name: str | None = None

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
    nonce: Nonce | None = None


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
    # Extension (not in api.md): set when the venue's door ratio policy is "warn" and the adults
    # admitted so far fall below its ratio; the class is admitted all the same.
    warning: str | None = None
