"""Calendar entries for bookings: the .ics attached to every e-mail and each teacher's subscription feed.

Every copy of a visit carries the same UID and a SEQUENCE taken from the booking's last change
(bookings.ics.sequence_for), so a phone calendar that holds an older copy replaces it, and a
cancelled visit arrives as STATUS:CANCELLED rather than disappearing.
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol

import icalendar
import msgspec

from bookings.ics import calendar_of, sequence_for, visit_event
from bookings.schemas import BookingView
from core.i18n import gettext

# A request is tentative until staff approve it; a declined one is off like a cancelled one.
ICS_STATUS = {"requested": "TENTATIVE", "declined": "CANCELLED", "cancelled": "CANCELLED"}


class VisitLike(Protocol):
    """What a calendar entry needs of a booking (a BookingView has it, and so does Visit)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def venue_name(self) -> str: ...
    @property
    def venue_address(self) -> str: ...
    @property
    def school_name(self) -> str: ...
    @property
    def class_name(self) -> str: ...
    @property
    def grade(self) -> str: ...
    @property
    def students(self) -> int: ...
    @property
    def chaperones(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def starts_at(self) -> datetime.datetime: ...
    @property
    def ends_at(self) -> datetime.datetime: ...


class Visit(msgspec.Struct):
    """A booking as its e-mail shows it, read with one query (messaging.notify)."""

    id: int
    status: str
    students: int
    chaperones: int
    grade: str
    class_name: str
    code: str
    decline_reason: str
    venue_name: str
    venue_address: str
    school_name: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    programme_title: str = ""
    room_name: str = ""


def booking_uid(booking_id: int) -> str:
    return f"booking-{booking_id}@kepu"


def booking_event(
    booking: VisitLike, *, updated_at: datetime.datetime, base_url: str = ""
) -> icalendar.Event:
    """The VEVENT of one booking (texts in the current language; the same msgids as the pass download)."""
    location = "，".join(p for p in (booking.venue_name, booking.venue_address) if p)
    summary = gettext("Class visit: {venue}").format(venue=booking.venue_name)
    lines = [
        gettext("School: {school}").format(school=booking.school_name),
        gettext("Class: {cls} {grade}").format(cls=booking.class_name, grade=booking.grade).strip(),
        gettext("Students: {s}, adults: {c}").format(s=booking.students, c=booking.chaperones),
        gettext("Pass code: {code}").format(code=booking.code),
    ]
    return visit_event(
        uid=booking_uid(booking.id),
        summary=summary,
        description="\n".join(lines),
        location=location,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        sequence=sequence_for(updated_at),
        url=f"{base_url}/bookings/{booking.id}" if base_url else None,
        status=ICS_STATUS.get(booking.status, "CONFIRMED"),
        stamp=updated_at,
    )


def booking_calendar(booking: VisitLike, *, updated_at: datetime.datetime, base_url: str = "") -> bytes:
    return calendar_of([booking_event(booking, updated_at=updated_at, base_url=base_url)])


def feed_calendar(
    rows: list[tuple[BookingView, datetime.datetime]], *, name: str, base_url: str = ""
) -> bytes:
    events: list[Any] = [booking_event(b, updated_at=u, base_url=base_url) for b, u in rows]
    return calendar_of(events, name=name)
