"""The yearly scorecard of every base: figures from check-ins in a few aggregate queries, marked
达标/未达标 against the base's threshold profile, with a weighted 0–100 score and a grade.

Counted: check-ins with result "admitted", not reversed and not waiting for review, made in the
Asia/Shanghai calendar year (the device's scan time when it has one). Rates (fulfilment, no-shows,
capacity use) look at confirmed bookings and open slots of the year that have ended.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from activities.services import empty_figures as empty_activity_figures
from activities.services import year_figures as activity_figures
from core import clock
from core.db import is_sqlite
from core.i18n import N_
from venues.tables import Venue

# code -> (label, direction, unit). "min": the figure must reach the threshold; "max": stay at or below it.
METRICS: dict[str, tuple[str, str, str]] = {
    "open_days": (N_("Open days"), "min", "days"),
    "weekend_open_days": (N_("Weekend open days"), "min", "days"),
    "visitors": (N_("Visitors"), "min", "people"),
    "students": (N_("Students"), "min", "people"),
    "adults": (N_("Adults"), "min", "people"),
    "school_groups": (N_("School groups"), "min", "groups"),
    "distinct_schools": (N_("Schools"), "min", "schools"),
    "districts_reached": (N_("Districts reached"), "min", "districts"),
    "partnership_sessions": (N_("School–venue sessions"), "min", "sessions"),
    "campaign_activities": (N_("Sessions in Science Week and Science Day"), "min", "sessions"),
    "fulfilment_rate": (N_("Fulfilment rate"), "min", "%"),
    "no_show_rate": (N_("No-show rate"), "max", "%"),
    "capacity_use": (N_("Capacity use"), "min", "%"),
}
RATES = ("fulfilment_rate", "no_show_rate", "capacity_use")
GRADES = (("excellent", N_("Excellent")), ("good", N_("Good")), ("pass", N_("Pass")), ("fail", N_("Fail")))
GRADE_LABELS = dict(GRADES)
DEFAULT_BANDS = {"excellent": 90, "good": 70, "pass": 60}
STAGES = ("preschool", "primary", "junior", "senior", "other")
STAGE_LABELS = {
    "preschool": N_("Pre-school"),
    "primary": N_("Primary"),
    "junior": N_("Junior secondary"),
    "senior": N_("Senior secondary"),
    "other": N_("Not given"),
}
_BAND_STAGE = {
    "preschool": "preschool",
    "primary_low": "primary",
    "primary_high": "primary",
    "junior": "junior",
    "senior": "senior",
}


def campaign_periods(year: int) -> dict[str, tuple[date, date]]:
    """科技活动周: the week (Mon–Sun) holding May's third Saturday; 全国科普日: the days around
    September's third weekend (Thursday to Tuesday). Inclusive local dates."""

    def third_saturday(month: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(5 - first.weekday()) % 7 + 14)

    may = third_saturday(5)
    sep = third_saturday(9)
    return {
        "science_week": (may - timedelta(days=5), may + timedelta(days=1)),
        "science_day": (sep - timedelta(days=2), sep + timedelta(days=3)),
    }


async def load_campaign_periods(year: int) -> dict[str, tuple[date, date]]:
    """The dates the auditor set for the year (evaluation.campaigns), else the rule above."""
    from evaluation.campaigns import periods  # it imports this module

    return await periods(year)


@dataclass
class Mark:
    code: str
    value: float | int | None
    threshold: float
    weight: float
    met: bool | None  # None: not assessed (weight 0, or a rate with nothing to measure)
    credit: float


@dataclass
class Scorecard:
    venue_id: int
    name: str
    district: str
    kind: str
    level: str
    status: str
    profile_code: str
    profile_name: str
    figures: dict[str, Any]
    marks: list[Mark] = field(default_factory=list)
    score: float = 0.0
    grade: str = "fail"
    by_month: list[int] = field(default_factory=lambda: [0] * 12)
    by_stage: dict[str, int] = field(default_factory=dict)

    @property
    def met_count(self) -> int:
        return sum(1 for m in self.marks if m.met)

    @property
    def assessed_count(self) -> int:
        return sum(1 for m in self.marks if m.met is not None)


@dataclass
class CityYear:
    year: int
    cards: list[Scorecard]
    by_month: list[int]
    by_district: dict[str, int]
    by_stage: dict[str, int]
    grades: dict[str, int]


# ---- SQL ------------------------------------------------------------------------------------------


# A local (Asia/Shanghai) day, on SQLite as its Julian day number (an integer: one julianday() call a
# row; Shanghai has had no daylight saving since 1991, so +8 h exactly), on PostgreSQL as a date. The
# running totals keep days as Julian day numbers on both engines.
JDN_OFFSET = 1721425  # date.toordinal() + this = the Julian day number


def year_days(year: int) -> tuple[int, int]:
    """A year's first and last local day as Julian day numbers (the running totals' days)."""
    return (date(year, 1, 1).toordinal() + JDN_OFFSET, date(year, 12, 31).toordinal() + JDN_OFFSET)


def _local_day(col: str) -> str:
    if is_sqlite():
        return f"CAST(julianday({col}) + 0.83333334 AS INTEGER)"
    return f"CAST(({col} AT TIME ZONE 'Asia/Shanghai') AS date)"


def _false() -> str:
    return "0" if is_sqlite() else "false"


def _counted_checkins_sql() -> str:
    """Counted check-ins of the year with their local day (the drill-down's rows); {} = lo, hi."""
    ts = "COALESCE(c.scanned_at, c.created_at)"
    return f"""
        SELECT c.id AS checkin_id, c.venue AS venue_id, c.booking AS booking_id,
               c.students AS st, c.chaperones AS ch, {_local_day(ts)} AS d
        FROM bookings_checkin c
        WHERE c.result = 'admitted' AND c.reversed_at IS NULL AND c.needs_review = {_false()}
          AND c.venue IS NOT NULL AND {ts} >= {{}} AND {ts} < {{}}
    """


# The city's year is added up from the running totals the database keeps beside the check-ins and the
# bookings (evaluation/piccolo_migrations: triggers in the same transaction as every change), so it
# reads a few thousand rows, not every check-in and booking. tests/evaluation/test_totals.py checks
# the totals against these figures recomputed from the check-ins and bookings themselves.

# Days and people per venue and month: a venue-day counts as open while it has a counted check-in.
# A day is a Julian day number; its remainder by 7 is Python's weekday() (5, 6: the weekend).
_DAYS_SQL = """
SELECT venue AS venue_id, local_month AS mon,
       SUM(CASE WHEN checkins > 0 THEN 1 ELSE 0 END) AS open_days,
       SUM(CASE WHEN checkins > 0 AND local_day % 7 IN (5, 6) THEN 1 ELSE 0 END) AS weekend_open_days,
       SUM(students + chaperones) AS visitors,
       SUM(students) AS students,
       SUM(chaperones) AS adults
FROM evaluation_venue_day
WHERE local_day >= {} AND local_day <= {}
GROUP BY venue, local_month
"""

# Per venue, from its slots and their tallies of their bookings (each booking's admitted counts are the
# sum of its counted check-ins, kept in the same transaction as the check-in), in groups by what the
# figures ask of a slot — ended, not cancelled, a school visit, in a campaign week — so that each row is
# classified once and the rest are plain sums; _slot_figures adds the groups up:
#  - groups and sessions: bookings / slots with anyone admitted;
#  - rates: confirmed bookings whose slot has ended (fulfilment = admitted ÷ booked people; a no-show
#    has nobody admitted); capacity use: the people admitted in ended, open slots over their places.
_SLOTS_SQL = """
SELECT sl.venue AS venue_id,
       CASE WHEN sl.ends_at < {} THEN 1 ELSE 0 END AS ended,
       CASE WHEN sl.cancelled_at IS NULL THEN 1 ELSE 0 END AS open_slot,
       CASE WHEN sl.kind = 'school_visit' THEN 1 ELSE 0 END AS school_visit,
       CASE WHEN (sl.starts_at >= {} AND sl.starts_at < {}) OR (sl.starts_at >= {} AND sl.starts_at < {})
            THEN 1 ELSE 0 END AS campaign,
       SUM(sl.capacity) AS capacity,
       SUM(CASE WHEN t.admitted_groups > 0 THEN 1 ELSE 0 END) AS sessions,
       SUM(t.admitted_groups) AS school_groups,
       SUM(t.stage_preschool) AS stage_preschool,
       SUM(t.stage_primary) AS stage_primary,
       SUM(t.stage_junior) AS stage_junior,
       SUM(t.stage_senior) AS stage_senior,
       SUM(t.stage_other) AS stage_other,
       SUM(t.confirmed) AS due_bookings,
       SUM(t.people_booked) AS people_booked,
       SUM(t.people_came) AS people_came,
       SUM(t.no_shows) AS no_shows,
       SUM(t.people_admitted) AS people_admitted
FROM venues_slot sl
LEFT JOIN evaluation_slot_tally t ON t.slot = sl.id
WHERE sl.starts_at >= {} AND sl.starts_at < {}
GROUP BY 1, 2, 3, 4, 5
"""
_ENDED_FIGURES = ("due_bookings", "people_booked", "people_came", "no_shows")


def _slot_figures(rows: list[dict[str, Any]]) -> dict[int, dict[str, int]]:
    """Per venue: the booking figures, the students by stage and the places, from _SLOTS_SQL's groups."""
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        f = out.setdefault(r["venue_id"], dict.fromkeys(_SLOT_KEYS, 0))
        f["school_groups"] += _int(r["school_groups"])
        if r["school_visit"]:
            f["partnership_sessions"] += _int(r["sessions"])
        if r["campaign"]:
            f["campaign_activities"] += _int(r["sessions"])
        for stage in STAGES:
            f[f"stage_{stage}"] += _int(r[f"stage_{stage}"])
        if r["ended"]:
            for key in _ENDED_FIGURES:
                f[key] += _int(r[key])
            if r["open_slot"]:
                f["people_in_slots"] += _int(r["people_admitted"])
                f["capacity"] += _int(r["capacity"])
    return out


# Schools and their districts with a booking someone was admitted on, in a slot of the year.
_SCHOOLS_SQL = """
SELECT r.venue AS venue_id, COUNT(*) AS distinct_schools, COUNT(DISTINCT s.district) AS districts_reached
FROM evaluation_venue_school r
JOIN accounts_school s ON s.id = r.school
WHERE r.local_year = {} AND r.admitted_groups > 0
GROUP BY r.venue
"""

_BOOKING_FIGURES = ("school_groups", "partnership_sessions", "campaign_activities")
_SLOT_KEYS = (
    *_BOOKING_FIGURES,
    *(f"stage_{stage}" for stage in STAGES),
    *_ENDED_FIGURES,
    "people_in_slots",
    "capacity",
)
_SCHOOL_FIGURES = ("distinct_schools", "districts_reached")

_WALK_INS_SQL = """SELECT venue AS venue_id, SUM(adults) AS adults, SUM(youth) AS youth
FROM timetable_walkin WHERE day >= {} AND day <= {} GROUP BY venue"""

_VENUES_SQL = """
SELECT v.id AS venue_id, v.name AS name, v.district AS district, v.kind AS kind,
       COALESCE(a.level, '') AS level, COALESCE(a.status, '') AS status, a.profile AS profile_id
FROM venues_venue v
LEFT JOIN registry_accreditation a ON a.venue = v.id
ORDER BY v.id
"""


def _int(v: Any) -> int:
    return int(v or 0)


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


async def load_profiles() -> dict[str, Any]:
    """{"by_id": {id: profile}, "by_kind": {kind: profile}}, each profile a dict with parsed config."""
    from registry.defaults import ensure_profiles  # the registry app owns the profiles
    from registry.tables import ThresholdProfile

    await ensure_profiles()
    rows = await ThresholdProfile.select().order_by(ThresholdProfile.id)
    by_id: dict[int, dict[str, Any]] = {}
    by_kind: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = {**r, "config": json.loads(r["config"] or "{}")}
        by_id[r["id"]] = p
        for kind in filter(None, (r["kinds"] or "").split(",")):
            by_kind.setdefault(kind, p)
    return {"by_id": by_id, "by_kind": by_kind}


def grade_for(score: float, bands: dict[str, Any]) -> str:
    for code in ("excellent", "good", "pass"):
        if score >= float(bands.get(code, DEFAULT_BANDS[code])):
            return code
    return "fail"


def assess(figures: dict[str, Any], config: dict[str, Any]) -> tuple[list[Mark], float, str]:
    """Mark each metric against the profile; score = Σ weight·credit / Σ weight × 100, where credit is
    the share of the threshold reached (capped at 1; for a "max" metric, threshold ÷ figure)."""
    marks: list[Mark] = []
    total_w = got = 0.0
    for code, (_label, direction, _unit) in METRICS.items():
        spec = (config.get("metrics") or {}).get(code) or {}
        threshold = float(spec.get("threshold") or 0)
        weight = float(spec.get("weight") or 0)
        value = figures.get(code)
        if weight <= 0 or value is None:
            marks.append(Mark(code, value, threshold, weight, None, 0.0))
            continue
        if direction == "min":
            met = value >= threshold
            credit = 1.0 if threshold <= 0 else min(1.0, value / threshold)
        else:
            met = value <= threshold
            credit = 1.0 if met else (threshold / value if value else 0.0)
        marks.append(Mark(code, value, threshold, weight, met, credit))
        total_w += weight
        got += weight * credit
    score = round(100.0 * got / total_w, 1) if total_w else 0.0
    return marks, score, grade_for(score, config.get("bands") or DEFAULT_BANDS)


async def city_year(year: int) -> CityYear:
    """Every base's scorecard for a year: aggregate queries over the running totals, run side by side."""
    lo, hi = clock.year_bounds(year)
    now = clock.now()
    camp = await load_campaign_periods(year)
    (wk_lo, wk_hi), (sd_lo, sd_hi) = camp["science_week"], camp["science_day"]
    week = (clock.day_bounds(wk_lo)[0], clock.day_bounds(wk_hi)[1])
    sci_day = (clock.day_bounds(sd_lo)[0], clock.day_bounds(sd_hi)[1])
    # Independent reads: run side by side (separate pooled/reader connections, so both cores work).
    days = year_days(year)
    venues, checkin_rows, slot_rows, school_rows, walk_in_rows, own_figures = await asyncio.gather(
        Venue.raw(_VENUES_SQL),
        Venue.raw(_DAYS_SQL, *days),
        Venue.raw(_SLOTS_SQL, now, *week, *sci_day, lo, hi),
        Venue.raw(_SCHOOLS_SQL, year),
        Venue.raw(_WALK_INS_SQL, date(year, 1, 1), date(year, 12, 31)),
        activity_figures(year, camp),
    )
    walk_ins = {r["venue_id"]: r for r in walk_in_rows}
    adm: dict[int, dict[str, int]] = {}
    month_by_venue: dict[int, list[int]] = {}
    for r in checkin_rows:
        vid = r["venue_id"]
        totals = adm.setdefault(
            vid, dict.fromkeys(("open_days", "weekend_open_days", "visitors", "students", "adults"), 0)
        )
        for key in totals:
            totals[key] += _int(r[key])
        month_by_venue.setdefault(vid, [0] * 12)[_int(r["mon"]) - 1] += _int(r["visitors"])
    bookings = _slot_figures(slot_rows)
    for vid, r in bookings.items():
        adm.setdefault(vid, {}).update({k: _int(r[k]) for k in _BOOKING_FIGURES})
    for r in school_rows:
        adm.setdefault(r["venue_id"], {}).update({k: _int(r[k]) for k in _SCHOOL_FIGURES})
    profiles = await load_profiles()
    stage_by_venue = {vid: {st: _int(r[f"stage_{st}"]) for st in STAGES} for vid, r in bookings.items()}

    cards: list[Scorecard] = []
    for v in venues:
        vid = v["venue_id"]
        a = adm.get(vid, {})
        bk = bookings.get(vid, {})
        figures: dict[str, Any] = {code: _int(a.get(code)) for code in METRICS if code not in RATES}
        figures["fulfilment_rate"] = _pct(_int(bk.get("people_came")), _int(bk.get("people_booked")))
        figures["no_show_rate"] = _pct(_int(bk.get("no_shows")), _int(bk.get("due_bookings")))
        figures["capacity_use"] = _pct(_int(bk.get("people_in_slots")), _int(bk.get("capacity")))
        figures["due_bookings"] = _int(bk.get("due_bookings"))
        # Visitors who came without a booking, tallied at the door (not scored: shown beside the figures).
        figures["walk_in_adults"] = _int(walk_ins.get(vid, {}).get("adults"))
        figures["walk_in_youth"] = _int(walk_ins.get(vid, {}).get("youth"))
        # Self-reported (自报) by the base, kept apart from the check-in figures: its activities outside
        # the bookings (by type, with attendance) and its annual self-report (None until filed).
        figures["self_reported"] = own_figures.get(vid) or empty_activity_figures()
        figures["activities_by_type"] = figures["self_reported"]["activities_by_type"]
        profile = profiles["by_id"].get(v["profile_id"]) or profiles["by_kind"].get(v["kind"]) or {}
        config = profile.get("config") or {}
        marks, score, grade = assess(figures, config)
        cards.append(
            Scorecard(
                venue_id=vid,
                name=v["name"],
                district=v["district"],
                kind=v["kind"],
                level=v["level"],
                status=v["status"],
                profile_code=profile.get("code", ""),
                profile_name=profile.get("name", ""),
                figures=figures,
                marks=marks,
                score=score,
                grade=grade,
                by_month=month_by_venue.get(vid, [0] * 12),
                by_stage=stage_by_venue.get(vid, dict.fromkeys(STAGES, 0)),
            )
        )
    by_month = [sum(c.by_month[m] for c in cards) for m in range(12)]
    by_district: dict[str, int] = {}
    for c in cards:
        by_district[c.district] = by_district.get(c.district, 0) + c.figures["visitors"]
    by_stage = {s: sum(c.by_stage.get(s, 0) for c in cards) for s in STAGES}
    grades = {g: sum(1 for c in cards if c.grade == g) for g, _ in GRADES}
    return CityYear(year, cards, by_month, by_district, by_stage, grades)


# ---- drill-down: the check-ins and bookings behind one figure of one base ------------------------


def _in_campaign(day: date, periods: dict[str, tuple[date, date]]) -> bool:
    return any(lo <= day <= hi for lo, hi in periods.values())


def row_day(v: Any) -> date:
    """A local day from a row: a date (PostgreSQL) or the Julian day number `_local` gives on SQLite."""
    if isinstance(v, date):
        return v
    return date.fromordinal(int(v) - JDN_OFFSET)


async def drill(venue_id: int, year: int, metric: str) -> dict[str, Any]:
    """The records a figure counts: check-ins (admission metrics) or bookings (rates). Counts only."""
    lo, hi = clock.year_bounds(year)
    if metric in ("fulfilment_rate", "no_show_rate", "capacity_use"):
        rows = await Venue.raw(
            f"""
            SELECT b.id AS booking_id, b.code AS code, b.status AS status, sl.starts_at AS starts_at,
                   sl.kind AS slot_kind, sl.capacity AS capacity, s.name AS school,
                   b.students + b.chaperones AS booked,
                   COALESCE((SELECT SUM(c.students + c.chaperones) FROM bookings_checkin c
                             WHERE c.booking = b.id AND c.result = 'admitted' AND c.reversed_at IS NULL
                               AND c.needs_review = {_false()}), 0) AS came
            FROM bookings_booking b
            JOIN venues_slot sl ON sl.id = b.slot
            JOIN accounts_school s ON s.id = b.school
            WHERE b.venue = {{}} AND b.status = 'confirmed' AND sl.starts_at >= {{}} AND sl.starts_at < {{}}
              AND sl.ends_at < {{}}
            ORDER BY sl.starts_at, b.id
            """,
            venue_id,
            lo,
            hi,
            clock.now(),
        )
        items = [{**r, "starts_at": clock.as_aware(r["starts_at"]), "came": _int(r["came"])} for r in rows]
        if metric == "no_show_rate":
            items = [r for r in items if r["came"] == 0]
        return {"kind": "bookings", "items": items}
    rows = await Venue.raw(
        f"""
        WITH adm AS ({_counted_checkins_sql()})
        SELECT a.checkin_id AS checkin_id, a.d AS d, a.st AS students, a.ch AS chaperones,
               b.id AS booking_id, b.code AS code, sl.kind AS slot_kind, sl.starts_at AS starts_at,
               s.name AS school, s.district AS school_district
        FROM adm a
        LEFT JOIN bookings_booking b ON b.id = a.booking_id
        LEFT JOIN venues_slot sl ON sl.id = b.slot
        LEFT JOIN accounts_school s ON s.id = b.school
        WHERE a.venue_id = {{}}
        ORDER BY a.d, a.checkin_id
        """,
        lo,
        hi,
        venue_id,
    )
    items = [{**r, "d": row_day(r["d"])} for r in rows]
    if metric == "weekend_open_days":
        items = [r for r in items if r["d"].weekday() >= 5]
    elif metric == "partnership_sessions":
        items = [r for r in items if r["slot_kind"] == "school_visit"]
    elif metric == "campaign_activities":
        periods = await load_campaign_periods(year)
        items = [r for r in items if r["booking_id"] is not None and _in_campaign(r["d"], periods)]
    elif metric in ("school_groups", "distinct_schools", "districts_reached"):
        items = [r for r in items if r["booking_id"] is not None]
    return {"kind": "checkins", "items": items}
