"""Reading dates and instants from query strings and forms (Asia/Shanghai unless an offset is given)."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, datetime

from core import clock

# "…T09:30:00+08:00" written into a URL without encoding arrives as "…T09:30:00 08:00" ("+" is a space
# in a query string); the offset is still unambiguous, so it is read as meant.
_UNENCODED_PLUS = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


def parse_date_or_instant(text: str) -> datetime:
    """A date means the start of that day in Asia/Shanghai; an instant without an offset is local time.

    Raises ValueError with a message a person can act on.
    """
    value = text.strip()
    parsed: date | datetime | None = None
    if len(value) == 10:
        with suppress(ValueError):
            parsed = date.fromisoformat(value)
    if parsed is None:
        try:
            iso = _UNENCODED_PLUS.sub(r"\1+\2", value).replace("Z", "+00:00").replace(" ", "T", 1)
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(
                f"“{text}” is not a date (2026-03-01) or a time (2026-03-01T09:30:00+08:00)."
            ) from None
    # Checked before any arithmetic: 0001-01-01 or 9999-12-31 would overflow on the way to UTC.
    if not clock.in_range(parsed):
        raise ValueError(f"“{text}” is not between the years {clock.FIRST_YEAR} and {clock.LAST_YEAR}.")
    if not isinstance(parsed, datetime):
        return clock.day_bounds(parsed)[0]
    return clock.as_aware(parsed).replace(microsecond=0)
