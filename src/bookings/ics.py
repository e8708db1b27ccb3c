"""iCalendar (RFC 5545) files for booked visits, times expressed in Asia/Shanghai."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import icalendar
from icalendar.enums import STATUS

__all__ = ["PRODID", "VENUE_TZ", "visit_calendar"]

PRODID = "-//kepu//科普预约//ZH"
VENUE_TZ = ZoneInfo("Asia/Shanghai")
_STATUSES = frozenset({"TENTATIVE", "CONFIRMED", "CANCELLED"})
# A day ahead leaves visitors time to arrange travel, or to cancel and free the slot for others.
_REMINDER_BEFORE = datetime.timedelta(days=1)
# VTIMEZONE window: from after Shanghai's 1986-91 DST (so only one fixed +08:00 rule is emitted) to
# icalendar's own default upper bound.
_TZ_FROM = datetime.date(2000, 1, 1)
_TZ_UNTIL = datetime.date(2038, 1, 1)


def _require_aware(name: str, value: datetime.datetime) -> None:
    # A naive time has no defined instant; guessing a zone would silently shift visits.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def visit_calendar(
    *,
    uid: str,
    summary: str,
    description: str,
    location: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    sequence: int = 0,
    url: str | None = None,
    status: str = "CONFIRMED",
    stamp: datetime.datetime | None = None,
) -> bytes:
    """One-event VCALENDAR (METHOD:PUBLISH) for a visit; re-issue with the same ``uid`` and a higher
    ``sequence`` to update or cancel it in the visitor's calendar."""
    _require_aware("starts_at", starts_at)
    _require_aware("ends_at", ends_at)
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if status not in _STATUSES:
        raise ValueError(f"status must be one of {sorted(_STATUSES)}, got {status!r}")
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    if stamp is None:
        stamp = datetime.datetime.now(datetime.UTC)
    _require_aware("stamp", stamp)

    start = starts_at.astimezone(VENUE_TZ)
    end = ends_at.astimezone(VENUE_TZ)
    event = icalendar.Event.new(
        uid=uid,
        summary=summary,
        description=description,
        location=location,
        start=start,
        end=end,
        stamp=stamp.astimezone(datetime.UTC),
        sequence=sequence,
        status=STATUS(status),
        url=url,
    )
    if status == "CONFIRMED":
        # A cancelled visit must not still nag the visitor the day before.
        event.add_component(icalendar.Alarm.new_display(description=summary, trigger=-_REMINDER_BEFORE))

    # Built without Calendar.new(), which would add a random calendar UID and make output non-reproducible.
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    # Widen the window rather than emit a VTIMEZONE that does not cover the event (or its reminder).
    calendar.add_missing_timezones(
        first_date=min(_TZ_FROM, start.date() - _REMINDER_BEFORE),
        last_date=max(_TZ_UNTIL, end.date() + datetime.timedelta(days=1)),
    )
    data: bytes = calendar.to_ical()
    return data
