"""RFC 5545 recurrence rules for slot series: read, check and expand them, bounded.

A series is a day rule (RRULE) plus a time of day: the rule says on which days, the series says at
what time (Beijing time; Asia/Shanghai keeps no daylight saving, so a wall-clock time is one instant
on every day). The rule is read with dateutil and must be bounded: UNTIL or COUNT, at most
MAX_OCCURRENCES dates and at most MAX_SPAN_DAYS from the first day. Anything else is refused with a
sentence, never an exception.
"""

from __future__ import annotations

import datetime as _datetime_module
import re
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

import dateutil.rrule as _rrule_module
from dateutil.rrule import rrulestr

from core import clock
from core.errors import DomainError
from core.i18n import N_

MAX_OCCURRENCES = 500
MAX_SPAN_DAYS = 731  # two years
ALLOWED_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST", "UNTIL", "COUNT")
FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class RuleError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "empty": (422, N_("Enter a repeat rule, e.g. FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270630.")),
        "invalid": (
            422,
            N_(
                "The repeat rule could not be read. Write it as parts like "
                "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270630, separated by semicolons."
            ),
        ),
        "part": (
            422,
            N_(
                "The repeat rule has a part kepu does not take: {part}. Use FREQ, UNTIL or COUNT, INTERVAL, "
                "BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS; the time of day is set in its own fields."
            ),
        ),
        "freq": (422, N_("A series repeats DAILY, WEEKLY, MONTHLY or YEARLY (the FREQ part).")),
        "unbounded": (
            422,
            N_("A series needs an end: add UNTIL=YYYYMMDD (the last day) or COUNT=n (how many times)."),
        ),
        "both_ends": (422, N_("Give either UNTIL or COUNT, not both.")),
        "too_many": (
            422,
            N_("This series would make more than {max} slots. Shorten it or split it into several series."),
        ),
        "too_long": (
            422,
            N_("A series may run for at most two years, until {last}. Choose an earlier end."),
        ),
        "until_before_start": (422, N_("The series ends ({until}) before its first day ({first}).")),
        "times": (422, N_("Enter the start and end times as HH:MM, with the end after the start.")),
        "exdate": (
            422,
            N_("Write the dates to leave out as YYYY-MM-DD, separated by commas or spaces (not: {value})."),
        ),
        "weekdays": (422, N_("Tick at least one weekday.")),
        "range": (422, N_("The last day must be on or after the first day.")),
        "day_range": (422, N_("Choose days between the years {first} and {last}.")),
    }


@dataclass(frozen=True)
class Rule:
    """A checked rule, in the normal form kept in the database (UNTIL as a local date-time)."""

    text: str
    first_day: date
    start: time = time(0, 0)


def parse_time(value: str) -> time:
    m = _TIME.match((value or "").strip()[:5])
    if m is None or len((value or "").strip()) not in (5, 8):
        raise RuleError("times")
    return time(int(m.group(1)), int(m.group(2)))


def check_times(start: str, end: str) -> tuple[time, time]:
    s, e = parse_time(start), parse_time(end)
    if e <= s:
        raise RuleError("times")
    return s, e


def parse_dates(text: str) -> list[date]:
    """'2026-04-07, 2026-04-09' (commas, spaces or new lines) → sorted distinct dates."""
    out: set[date] = set()
    for token in re.split(r"[\s,，;；]+", (text or "").strip()):
        if not token:
            continue
        try:
            day = date.fromisoformat(token)
        except ValueError:
            raise RuleError("exdate", value=token[:20]) from None
        if len(token) != 10 or not clock.in_range(day):
            raise RuleError("exdate", value=token[:20])
        out.add(day)
    return sorted(out)


def weekly_rule(weekdays: Iterable[str], last_day: date, interval: int = 1) -> str:
    """The rule the simple form means: these weekdays, every `interval` weeks, until `last_day`."""
    days = [d for d in WEEKDAYS if d in set(weekdays)]
    if not days:
        raise RuleError("weekdays")
    every = f";INTERVAL={interval}" if interval > 1 else ""
    return f"FREQ=WEEKLY{every};BYDAY={','.join(days)};UNTIL={last_day.strftime('%Y%m%d')}"


def _until(value: str) -> datetime:
    """UNTIL as a naive Beijing date-time; a bare date means the whole of that day (people say
    "until 30 June" and mean the 30th too)."""
    m = _UNTIL.match(value)
    if m is None:
        raise RuleError("invalid")
    try:
        day = datetime.strptime(m.group(1), "%Y%m%d")
        if m.group(2) is None:
            return day.replace(hour=23, minute=59, second=59)
        at = datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        raise RuleError("invalid") from None
    if m.group(3):
        at = at.replace(tzinfo=_datetime_module.UTC).astimezone(clock.TZ).replace(tzinfo=None)
    return at


def check_rule(text: str, first_day: date, start: time = time(0, 0)) -> Rule:
    """Read a RRULE (with or without the 'RRULE:' prefix) and check that it is one kepu can expand."""
    raw = (text or "").strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    raw = raw.strip().strip(";").upper()
    if not raw:
        raise RuleError("empty")
    if len(raw) > 400:
        raise RuleError("invalid")
    if not clock.in_range(first_day):
        raise RuleError("day_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    parts: dict[str, str] = {}
    for piece in raw.split(";"):
        name, sep, value = piece.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value or name in parts:
            raise RuleError("invalid")
        if name not in ALLOWED_PARTS:
            raise RuleError("part", part=name[:30])
        parts[name] = value
    if parts.get("FREQ") not in FREQS:
        raise RuleError("freq")
    if "UNTIL" in parts and "COUNT" in parts:
        raise RuleError("both_ends")
    last = first_day + timedelta(days=MAX_SPAN_DAYS)
    if "UNTIL" in parts:
        until = _until(parts["UNTIL"])
        if until.date() < first_day:
            raise RuleError("until_before_start", until=until.date().isoformat(), first=first_day.isoformat())
        if until.date() > last:
            raise RuleError("too_long", last=last.isoformat())
        parts["UNTIL"] = until.strftime("%Y%m%dT%H%M%S")
    elif "COUNT" in parts:
        if not parts["COUNT"].isdigit() or int(parts["COUNT"]) < 1:
            raise RuleError("invalid")
        if int(parts["COUNT"]) > MAX_OCCURRENCES:
            raise RuleError("too_many", max=MAX_OCCURRENCES)
        parts["COUNT"] = str(int(parts["COUNT"]))
    else:
        raise RuleError("unbounded")
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and 1 <= int(parts["INTERVAL"]) <= 1000):
        raise RuleError("invalid")
    normal = ";".join(f"{k}={parts[k]}" for k in ALLOWED_PARTS if k in parts)
    _dates(normal, first_day, start)  # read once with dateutil: a rule it cannot read is refused here
    return Rule(text=normal, first_day=first_day, start=start)


class _Ceiling(types.ModuleType):
    """The `datetime` module as dateutil's rrule sees it, with MAXYEAR lowered.

    dateutil walks a rule that matches nothing (e.g. 30 February) period by period until year 9999,
    seconds of CPU for a daily rule; with this ceiling it stops just past the series' last allowed day.
    """

    def __init__(self, maxyear: int) -> None:
        super().__init__("datetime")
        self.MAXYEAR = maxyear

    def __getattr__(self, name: str) -> Any:
        return getattr(_datetime_module, name)


_CEILING_LOCK = threading.Lock()


def _dates(text: str, first_day: date, start: time) -> list[date]:
    """The days the checked rule falls on, from first_day, at most MAX_OCCURRENCES of them."""
    dtstart = datetime.combine(first_day, start)
    last = first_day + timedelta(days=MAX_SPAN_DAYS)
    out: list[date] = []
    with _CEILING_LOCK:
        saved = _rrule_module.datetime
        _rrule_module.datetime = _Ceiling(last.year + 1)
        try:
            rule = rrulestr(text, dtstart=dtstart)
            for at in rule:
                if at.date() > last:
                    raise RuleError("too_long", last=last.isoformat())
                out.append(at.date())
                if len(out) > MAX_OCCURRENCES:
                    raise RuleError("too_many", max=MAX_OCCURRENCES)
        except RuleError:
            raise
        except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError):
            raise RuleError("invalid") from None
        finally:
            _rrule_module.datetime = saved
    return out


@dataclass(frozen=True)
class Occurrence:
    """One date of a series: made into a slot, or left out with the reason."""

    day: date
    skipped: str = ""  # "" | exdate | holiday | blackout | closure | past
    note: str = ""  # the holiday's name, the blackout's or closure's reason
    outside_hours: bool = False

    @property
    def made(self) -> bool:
        return not self.skipped


def expand(
    rule: Rule,
    *,
    exdates: Iterable[date] = (),
    holidays: dict[date, str] | None = None,
    blackouts: dict[date, str] | None = None,
    closures: dict[date, str] | None = None,
    not_before: date | None = None,
) -> list[Occurrence]:
    """Every date of the rule, each either made or skipped with why (in that order of precedence)."""
    left_out = set(exdates)
    holidays, blackouts, closures = holidays or {}, blackouts or {}, closures or {}
    out = []
    for day in _dates(rule.text, rule.first_day, rule.start):
        if not_before is not None and day < not_before:
            out.append(Occurrence(day, "past"))
        elif day in left_out:
            out.append(Occurrence(day, "exdate"))
        elif day in closures:
            out.append(Occurrence(day, "closure", closures[day]))
        elif day in blackouts:
            out.append(Occurrence(day, "blackout", blackouts[day]))
        elif day in holidays:
            out.append(Occurrence(day, "holiday", holidays[day]))
        else:
            out.append(Occurrence(day))
    return out


def instants(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """A slot's start and end on a day, as aware Beijing instants."""
    return (
        datetime.combine(day, start, tzinfo=clock.TZ),
        datetime.combine(day, end, tzinfo=clock.TZ),
    )
