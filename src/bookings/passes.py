"""A pass outside its page: the visit as an iCalendar file and the QR as a PNG, for pages and API alike."""

from __future__ import annotations

from litestar import Response

from bookings.ics import visit_calendar
from bookings.qr import qr_png
from bookings.schemas import BookingView
from core.i18n import gettext
from core.web import attachment


def calendar_for(booking: BookingView, base_url: str = "") -> bytes:
    location = "，".join(p for p in (booking.venue_name, booking.venue_address) if p)
    summary = gettext("Class visit: {venue}").format(venue=booking.venue_name)
    lines = [
        gettext("School: {school}").format(school=booking.school_name),
        gettext("Class: {cls} {grade}").format(cls=booking.class_name, grade=booking.grade).strip(),
        gettext("Students: {s}, adults: {c}").format(s=booking.students, c=booking.chaperones),
        gettext("Pass code: {code}").format(code=booking.code),
    ]
    return visit_calendar(
        uid=f"booking-{booking.id}@kepu",
        summary=summary,
        description="\n".join(lines),
        location=location,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        sequence=1 if booking.status in ("cancelled", "declined") else 0,
        url=f"{base_url}/bookings/{booking.id}" if base_url else None,
        # A request is tentative until staff approve it; a declined one is off like a cancelled one.
        status={"requested": "TENTATIVE", "declined": "CANCELLED", "cancelled": "CANCELLED"}.get(
            booking.status, "CONFIRMED"
        ),
    )


def calendar_response(booking: BookingView) -> Response[bytes]:
    return attachment(calendar_for(booking), "text/calendar; charset=utf-8", f"kepu-booking-{booking.id}.ics")


def qr_response(booking: BookingView) -> Response[bytes]:
    return Response(qr_png(booking.qr_token), media_type="image/png", headers={"Cache-Control": "private"})
