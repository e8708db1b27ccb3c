"""A venue's booking rules as pure checks: which rule a booking breaks, and the numbers that would work.

No database here: services read the venue, the day's bookings and the clock, and pass them in, so every
rule can be unit-tested on its own. Every rule is optional (None = the venue has no such rule), so a
venue without rules takes any booking that fits the slot (api.md).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import msgspec

from venues.programmes import merge_rules


class Rules(msgspec.Struct, frozen=True):
    min_lead_days: int | None = None
    max_lead_days: int | None = None
    group_min: int | None = None
    group_max: int | None = None
    daily_cap: int | None = None
    students_per_adult: int | None = None
    preschool_students_per_adult: int | None = None
    approval_mode: str | None = None
    final_count_days: int | None = None
    free_cancel_days: int | None = None

    @classmethod
    def of(cls, venue: Any) -> Rules:
        """The rules of anything with the rule attributes (a VenueView)."""
        return cls(**{f: getattr(venue, f) for f in cls.__struct_fields__})

    @property
    def needs_approval(self) -> bool:
        return self.approval_mode == "request"


def effective_rules(venue: Any, programme: Any | None = None) -> Rules:
    """The one place a slot's rules are made: the venue's, with each rule the slot's programme sets
    (a non-NULL column) in its place (venues.programmes.merge_rules says which rules a programme may
    set). `venue` and `programme` are views or rows (dicts)."""
    return Rules(**merge_rules(venue, programme, Rules.__struct_fields__))


class Breach(msgspec.Struct, frozen=True):
    """A rule that says no: a stable code and the numbers its message needs."""

    code: str
    params: dict[str, Any] = {}


def students_per_adult(rules: Rules, band: str | None) -> int | None:
    """The ratio that applies: pre-school has its own (stricter) one, falling back to the school one."""
    if band == "preschool":
        return rules.preschool_students_per_adult or rules.students_per_adult
    return rules.students_per_adult


def adults_needed(rules: Rules, students: int, band: str | None) -> int:
    ratio = students_per_adult(rules, band)
    return math.ceil(students / ratio) if ratio else 0


def check_lead(rules: Rules, *, today: date, day: date) -> Breach | None:
    """How far ahead: `day` (the slot's local date) must be at least min and at most max days after today."""
    ahead = (day - today).days
    if rules.min_lead_days is not None and ahead < rules.min_lead_days:
        earliest = today + timedelta(days=rules.min_lead_days)
        return Breach("lead_too_short", {"days": rules.min_lead_days, "earliest": earliest.isoformat()})
    if rules.max_lead_days is not None and ahead > rules.max_lead_days:
        opens = day - timedelta(days=rules.max_lead_days)
        return Breach("lead_too_long", {"days": rules.max_lead_days, "opens": opens.isoformat()})
    return None


def check_group(rules: Rules, *, students: int, chaperones: int, band: str | None) -> Breach | None:
    """Group size (students + adults) and the adult ratio for the grade band."""
    people = students + chaperones
    if rules.group_min is not None and people < rules.group_min:
        return Breach("group_too_small", {"min": rules.group_min, "people": people})
    if rules.group_max is not None and people > rules.group_max:
        return Breach("group_too_large", {"max": rules.group_max, "people": people})
    needed = adults_needed(rules, students, band)
    if chaperones < needed:
        ratio = students_per_adult(rules, band)
        return Breach(
            "too_few_adults",
            {"ratio": ratio, "students": students, "needed": needed, "missing": needed - chaperones},
        )
    return None


def check_daily_cap(rules: Rules, *, day: date, booked_that_day: int, people: int) -> Breach | None:
    """The venue-day's group visitors (bookings that hold places) plus this group stay within the cap."""
    if rules.daily_cap is None or booked_that_day + people <= rules.daily_cap:
        return None
    left = max(rules.daily_cap - booked_that_day, 0)
    return Breach("daily_cap", {"cap": rules.daily_cap, "left": left, "day": day.isoformat()})


def check_booking(
    rules: Rules,
    *,
    today: date,
    day: date,
    students: int,
    chaperones: int,
    band: str | None,
    blackout_reason: str | None,
) -> Breach | None:
    """Every rule that needs no lock, in the order a teacher would fix them: the date, then the group."""
    if breach := check_lead(rules, today=today, day=day):
        return breach
    if blackout_reason is not None:
        return Breach("blackout", {"day": day.isoformat(), "reason": blackout_reason})
    return check_group(rules, students=students, chaperones=chaperones, band=band)


def final_count_deadline(rules: Rules, day: date) -> date | None:
    """The last day on which a group may still get smaller (None: it always may)."""
    return None if rules.final_count_days is None else day - timedelta(days=rules.final_count_days)


def check_change(
    rules: Rules,
    *,
    today: date,
    day: date,
    old_students: int,
    old_chaperones: int,
    students: int,
    chaperones: int,
    band: str | None,
) -> Breach | None:
    """A headcount change: any change within the group rules until the final-count deadline, then
    only increases (room in the slot and the day's cap are checked where the places are taken)."""
    deadline = final_count_deadline(rules, day)
    shrinking = students < old_students or chaperones < old_chaperones
    if deadline is not None and today > deadline and shrinking:
        return Breach(
            "after_final_count",
            {"deadline": deadline.isoformat(), "students": old_students, "chaperones": old_chaperones},
        )
    return check_group(rules, students=students, chaperones=chaperones, band=band)


def free_cancel_deadline(rules: Rules, day: date) -> date | None:
    """The last day on which cancelling is free (None: it always is)."""
    return None if rules.free_cancel_days is None else day - timedelta(days=rules.free_cancel_days)
