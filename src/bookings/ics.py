"""iCalendar (RFC 5545) files for booked visits, times expressed in Asia/Shanghai."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import icalendar
from icalendar.enums import STATUS

__all__ = ["PRODID", "VENUE_TZ", "calendar_of", "sequence_for", "visit_calendar", "visit_event"]

PRODID = "-//kepu//科普预约//ZH"
VENUE_TZ = ZoneInfo("Asia/Shanghai")
_STATUSES = frozenset({"TENTATIVE", "CONFIRMED", "CANCELLED"})
# A day ahead leaves visitors time to arrange travel, or to cancel and free the slot for others.
_REMINDER_BEFORE = datetime.timedelta(days=1)
# VTIMEZONE window: from after Shanghai's 1986-91 DST (so only one fixed +08:00 rule is emitted) to
# icalendar's own default upper bound.
_TZ_FROM = datetime.date(2000, 1, 1)
_TZ_UNTIL = datetime.date(2038, 1, 1)
_SEQUENCE_EPOCH = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def _require_aware(name: str, value: datetime.datetime) -> None:
    # A naive time has no defined instant; guessing a zone would silently shift visits.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def sequence_for(updated_at: datetime.datetime) -> int:
    """The SEQUENCE of a visit last changed at ``updated_at``: seconds since 2020, so every change (made
    at least a second after the one before) raises it, in every copy kepu hands out (download, e-mail,
    subscription), without a counter to keep. Fits RFC 5545's 32-bit integer until 2088."""
    _require_aware("updated_at", updated_at)
    return max(0, int((updated_at - _SEQUENCE_EPOCH).total_seconds()))


def visit_event(
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
) -> icalendar.Event:
    """One VEVENT for a visit, with a reminder the day before while it is confirmed."""
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

    event = icalendar.Event.new(
        uid=uid,
        summary=summary,
        description=description,
        location=location,
        start=starts_at.astimezone(VENUE_TZ),
        end=ends_at.astimezone(VENUE_TZ),
        stamp=stamp.astimezone(datetime.UTC),
        sequence=sequence,
        status=STATUS(status),
        url=url,
    )
    if status == "CONFIRMED":
        # A cancelled visit must not still nag the visitor the day before.
        event.add_component(icalendar.Alarm.new_display(description=summary, trigger=-_REMINDER_BEFORE))
    return event


@functools.lru_cache(maxsize=8)
def _timezone(first_date: datetime.date, last_date: datetime.date) -> icalendar.Timezone:
    # Computing the VTIMEZONE walks every transition of the window (~25 ms); it never changes.
    return icalendar.Timezone.from_tzid(str(VENUE_TZ), first_date=first_date, last_date=last_date)


def calendar_of(events: Sequence[icalendar.Event], *, name: str | None = None) -> bytes:
    """A VCALENDAR (METHOD:PUBLISH) of visits, with the VTIMEZONE they need; ``name`` titles a
    subscribed calendar in the visitor's calendar app."""
    # Built without Calendar.new(), which would add a random calendar UID and make output non-reproducible.
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", str(VENUE_TZ))
    first, last = _TZ_FROM, _TZ_UNTIL
    for event in events:
        start, end = event.start, event.end
        assert isinstance(start, datetime.datetime) and isinstance(end, datetime.datetime)
        # Widen the window rather than emit a VTIMEZONE that does not cover the event (or its reminder).
        first = min(first, start.date() - _REMINDER_BEFORE)
        last = max(last, end.date() + datetime.timedelta(days=1))
    if events:
        calendar.add_component(_timezone(first, last))
    for event in events:
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


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
    event = visit_event(
        uid=uid,
        summary=summary,
        description=description,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        sequence=sequence,
        url=url,
        status=status,
        stamp=stamp,
    )
    return calendar_of([event])
