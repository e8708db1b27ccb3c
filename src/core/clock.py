"""The one clock kepu reads, and Asia/Shanghai calendar helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

# The years an instant from outside may fall in: any real visit fits, and date arithmetic, the
# database and a pass's 16-bit day number (days since 2000-01-01) never overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2100

# Tests replace this to move time; nothing else should call datetime.now().
_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current instant, timezone-aware (UTC), to the second."""
    return _now().replace(microsecond=0)


def local(dt: datetime) -> datetime:
    """The same instant expressed in Asia/Shanghai."""
    return dt.astimezone(TZ)


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return local(now()).date()


def as_aware(dt: datetime) -> datetime:
    """A value sent without an offset is read as Asia/Shanghai (api.md, "time")."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=TZ)
    return dt


def stored(value: datetime | str) -> datetime:
    """An instant as a raw query hands it back: SQLite gives an aggregate's or computed column's
    timestamp as the stored text, which carries its offset."""
    return as_aware(datetime.fromisoformat(value) if isinstance(value, str) else value)


def in_range(dt: datetime | date) -> bool:
    """Whether a date or instant falls in the years kepu accepts (FIRST_YEAR to LAST_YEAR)."""
    return FIRST_YEAR <= dt.year <= LAST_YEAR


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in Asia/Shanghai, as aware instants."""
    start = datetime.combine(day, time.min, tzinfo=TZ)
    return start, start + timedelta(days=1)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 Jan, next 1 Jan) of a calendar year in Asia/Shanghai."""
    return (
        datetime(year, 1, 1, tzinfo=TZ),
        datetime(year + 1, 1, 1, tzinfo=TZ),
    )
