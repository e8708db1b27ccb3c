"""Reading dates and instants from query strings and forms (Asia/Shanghai unless an offset is given)."""

from __future__ import annotations

from datetime import date, datetime

from core import clock


def parse_date_or_instant(text: str) -> datetime:
    """A date means the start of that day in Asia/Shanghai; an instant without an offset is local time.

    Raises ValueError with a message a person can act on.
    """
    value = text.strip()
    if len(value) == 10:
        try:
            return clock.day_bounds(date.fromisoformat(value))[0]
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"“{text}” is not a date (2026-03-01) or a time (2026-03-01T09:30:00+08:00)."
        ) from None
    return clock.as_aware(parsed).replace(microsecond=0)
