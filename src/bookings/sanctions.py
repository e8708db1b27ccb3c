"""Strike sanctions: a school with many recent strikes is warned, then kept from booking for a while.

The thresholds are settings (environment variables, read at each use so a change needs no code):

- ``KEPU_STRIKE_WINDOW_DAYS`` (365): only strikes this recent count;
- ``KEPU_STRIKE_WARN_AT`` (2): this many strikes in the window give the school a warning;
- ``KEPU_STRIKE_RESTRICT_AT`` (3): this many restrict the school from new bookings (and joining a
  waiting list) for ``KEPU_STRIKE_RESTRICT_DAYS`` (30) days counted from the day of its last strike.

Bookings already made are kept; the restriction ends by itself (nothing to lift).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import ClassVar

import msgspec

from bookings.tables import Strike
from core import clock
from core.errors import DomainError
from core.i18n import N_
from core.sql import Statement


class SanctionError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "school_restricted": (
            403,
            N_(
                "Your school has {strikes} strikes (late cancels and no-shows) in the last {window} days, "
                "so it cannot make new bookings until {until}. Bookings already made are kept."
            ),
        ),
    }


class SanctionSettings(msgspec.Struct, frozen=True):
    window_days: int = 365
    warn_at: int = 2
    restrict_at: int = 3
    restrict_days: int = 30


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default


def settings() -> SanctionSettings:
    return SanctionSettings(
        window_days=_env_int("KEPU_STRIKE_WINDOW_DAYS", 365),
        warn_at=_env_int("KEPU_STRIKE_WARN_AT", 2),
        restrict_at=_env_int("KEPU_STRIKE_RESTRICT_AT", 3),
        restrict_days=_env_int("KEPU_STRIKE_RESTRICT_DAYS", 30),
    )


class Sanction(msgspec.Struct):
    """A school's standing under the sanctions: recent strikes, a warning, a restriction's last day."""

    strikes: int = 0
    warned: bool = False
    restricted_until: date | None = None
    warn_at: int = 2
    restrict_at: int = 3
    window_days: int = 365

    @property
    def restricted(self) -> bool:
        return self.restricted_until is not None


_STRIKES_OF_ONE = Statement(
    "SELECT school, created_at FROM bookings_strike WHERE school = $1 AND created_at >= $2"
)


def strikes_since() -> datetime:
    """The oldest strike that still counts."""
    return clock.now() - timedelta(days=settings().window_days)


def standing(strikes: int, last_strike: datetime | str | None) -> Sanction:
    """A school's standing from its strikes within the window and the newest one's time (SQLite may
    hand an aggregate's time back as text). A restriction runs until (and including) `restricted_until`."""
    conf = settings()
    s = Sanction(
        strikes=strikes, warn_at=conf.warn_at, restrict_at=conf.restrict_at, window_days=conf.window_days
    )
    if conf.warn_at and strikes >= conf.warn_at:
        s.warned = True
    if conf.restrict_at and strikes >= conf.restrict_at and conf.restrict_days and last_strike is not None:
        until = clock.local(clock.stored(last_strike)).date() + timedelta(days=conf.restrict_days - 1)
        if until >= clock.today():
            s.restricted_until = until
    return s


async def sanctions_of(school_ids: list[int]) -> dict[int, Sanction]:
    """Per school, in one query."""
    if not school_ids:
        return {}
    since = strikes_since()
    if len(school_ids) == 1:  # the pass page asks this of its school: a prepared statement
        rows = await _STRIKES_OF_ONE.fetch(school_ids[0], since)
    else:
        rows = await Strike.select(Strike.school, Strike.created_at).where(
            Strike.school.is_in(school_ids) & (Strike.created_at >= since)
        )
    counts: dict[int, int] = dict.fromkeys(school_ids, 0)
    last: dict[int, datetime] = {}
    for r in rows:
        counts[r["school"]] += 1
        at = clock.as_aware(r["created_at"])
        if r["school"] not in last or at > last[r["school"]]:
            last[r["school"]] = at
    return {sid: standing(n, last.get(sid)) for sid, n in counts.items()}


async def sanction_of(school_id: int) -> Sanction:
    return (await sanctions_of([school_id]))[school_id]


async def ensure_may_book(school_id: int) -> None:
    """Raise SanctionError("school_restricted") while the school is restricted."""
    ensure_allowed(await sanction_of(school_id))


def ensure_allowed(s: Sanction) -> None:
    """Raise SanctionError("school_restricted") when this standing is a restriction."""
    if s.restricted_until is not None:
        raise SanctionError(
            "school_restricted",
            strikes=s.strikes,
            window=s.window_days,
            until=s.restricted_until.isoformat(),
        )
