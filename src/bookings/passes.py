"""A pass outside its page: the visit as an iCalendar file and the QR as a PNG, for pages and API alike."""

from __future__ import annotations

from litestar import Response

from bookings.qr import qr_png
from bookings.schemas import BookingView
from bookings.tables import Booking
from core.web import attachment


async def calendar_response(booking: BookingView) -> Response[bytes]:
    """The visit's .ics: the same entry (UID, SEQUENCE from its last change) as the e-mails and the
    teacher's subscription carry, so a calendar holding any copy of it takes this one as newer or equal."""
    from messaging.calendar import booking_calendar  # messaging builds on bookings, not the reverse

    row = await Booking.select(Booking.updated_at).where(Booking.id == booking.id).first()
    updated_at = row["updated_at"] if row else booking.created_at
    return attachment(
        booking_calendar(booking, updated_at=updated_at),
        "text/calendar; charset=utf-8",
        f"kepu-booking-{booking.id}.ics",
    )


def qr_response(booking: BookingView) -> Response[bytes]:
    return Response(qr_png(booking.qr_token), media_type="image/png", headers={"Cache-Control": "private"})
