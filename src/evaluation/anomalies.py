"""Anomaly flags for the auditor: figures at a base that do not look like a real door, each with evidence.

What is looked at is what the scorecard counts (evaluation/scorecard.py): check-ins with result
"admitted", not reversed and not waiting for review, made in the Asia/Shanghai calendar year (the
device's scan time when it has one). Each kind of flag is one aggregate query for the whole city; the
evidence of one flag at one base is one more query, capped at `Thresholds.evidence_limit` records.
The auditor sees counts, times, booking ids, staff and devices — never a pupil's personal data.

Kinds:
- outside_window: admitted on another day than the slot's, or before the venue's arrival window opens
  (slot start − arrival_before_start_minutes) or after it closes (slot end + arrival_after_end_minutes);
- outside_hours: admitted on a closure day; or on a weekday the venue is closed, or more than
  `hours_grace_minutes` before opening / after closing (timetable opening hours; none set = no check),
  when that is also more than `hours_grace_minutes` away from the slot's own time — a slot the venue
  published outside its usual hours (an evening lab) is not suspect;
- over_admitted: a booking whose admitted check-ins add up to more students, adults or people than
  it booked (or whose own admitted counts exceed them);
- fast_scans: a burst of at least `fast_burst` admissions by one staff member on one device, each
  less than `fast_scan_seconds` after the one before — faster than a door can count a class;
- typed: at least `typed_min_admissions` admissions of which at least `typed_share_pct` % were typed
  codes, not scanned passes (bookings_checkin.method = 'code');
- same_headcount: the same number of people admitted on at least `same_headcount_days` days, and on
  at least `same_headcount_share_pct` % of the days the base admitted anyone;
- booked_after: admissions of bookings created after their slot had started, or after the admission.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from core import clock
from core.db import is_sqlite
from core.errors import DomainError
from core.i18n import N_
from core.sql import Statement
from evaluation.scorecard import row_day, year_days


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the flags, in one place. DEFAULTS holds the values the pages use."""

    hours_grace_minutes: int = 30  # this long before opening / after closing (or the slot) is fine
    fast_scan_seconds: float = 3.0  # admissions closer together than this are "too fast"
    fast_burst: int = 3  # this many admissions in a row, each too fast after the one before
    typed_share_pct: float = 90.0  # share of typed codes among a base's admissions
    typed_min_admissions: int = 20  # ... counted only from this many admissions on
    same_headcount_days: int = 10  # the same daily total on at least this many days
    same_headcount_share_pct: float = 50.0  # ... and on at least this share of the base's open days
    evidence_limit: int = 20  # records shown per flag


DEFAULTS = Thresholds()

KINDS: dict[str, str] = {
    "outside_window": N_("Check-ins outside the slot's arrival window"),
    "outside_hours": N_("Check-ins outside opening hours"),
    "over_admitted": N_("More people admitted than booked"),
    "fast_scans": N_("Scans faster than a person can scan"),
    "typed": N_("Almost all admissions typed, not scanned"),
    "same_headcount": N_("The same headcount day after day"),
    "booked_after": N_("Bookings made after the visit"),
}
KIND_HINTS: dict[str, str] = {
    "outside_window": N_("Admitted on another day than the slot, or before or after the arrival window."),
    "outside_hours": N_("Admitted on a closed day, or well before opening or after closing time."),
    "over_admitted": N_("The admitted check-ins of a booking add up to more people than it booked."),
    "fast_scans": N_("Several admissions in a row by one person on one device, seconds apart."),
    "typed": N_("Passes are usually scanned; a door that types nearly every code deserves a look."),
    "same_headcount": N_("The base admitted exactly the same number of people on many days."),
    "booked_after": N_("The booking was created after its slot had started or after the admission."),
}


class AnomalyError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "kind": (404, N_("There is no such kind of anomaly. Pick one from the list of flags.")),
    }


@dataclass
class Flag:
    kind: str
    venue_id: int
    venue_name: str
    district: str
    count: int  # records behind the flag: check-ins, bookings (over_admitted) or days (same_headcount)
    figures: dict[str, Any] = field(default_factory=dict)  # kind-specific: total, typed, people, days...


@dataclass
class Summary:
    year: int
    flags: list[Flag]

    @property
    def bases(self) -> int:
        return len({f.venue_id for f in self.flags})

    def by_kind(self) -> list[tuple[str, list[Flag]]]:
        return [
            (k, [f for f in self.flags if f.kind == k]) for k in KINDS if any(f.kind == k for f in self.flags)
        ]

    def of_venue(self, venue_id: int) -> list[Flag]:
        return [f for f in self.flags if f.venue_id == venue_id]


@dataclass
class Evidence:
    kind: str
    shape: str  # "checkins" | "days"
    records: list[dict[str, Any]]
    flag: Flag | None


# ---- SQL in both dialects ------------------------------------------------------------------------


def _sqlite() -> bool:
    return is_sqlite()


def _epoch(col: str) -> str:
    """Seconds (any fixed origin) of an instant, for differences and comparisons. On PostgreSQL with
    date_part(), a double, as in the other helpers here: EXTRACT() gives a numeric (since 14), several
    times slower to compute and compare over a city's year of check-ins."""
    return f"(julianday({col}) * 86400.0)" if _sqlite() else f"date_part('epoch', {col})"


def _day(col: str) -> str:
    """The Asia/Shanghai local day: a Julian day number on SQLite (as scorecard._local), a date on PG."""
    if _sqlite():
        return f"CAST(julianday({col}) + 0.83333334 AS INTEGER)"
    return f"CAST(({col} AT TIME ZONE 'Asia/Shanghai') AS date)"


def _date_col(col: str) -> str:
    """A DATE column in the spelling of `_day`."""
    return f"CAST(julianday({col}) + 0.5 AS INTEGER)" if _sqlite() else col


def _weekday(col: str) -> str:
    """0 = Monday … 6 = Sunday, of the local day (the Julian day number's remainder by 7 on SQLite)."""
    if _sqlite():
        return f"({_day(col)} % 7)"
    return f"(CAST(date_part('isodow', {col} AT TIME ZONE 'Asia/Shanghai') AS INTEGER) - 1)"


def _minute_of_day(col: str) -> str:
    if _sqlite():
        # The fraction of the local Julian day (noon-based, hence the +0.5), in whole minutes.
        jd = f"(julianday({col}) + 0.83333334)"
        return f"CAST(({jd} - CAST({jd} AS INTEGER)) * 1440 AS INTEGER)"
    local = f"({col} AT TIME ZONE 'Asia/Shanghai')"
    return f"CAST(date_part('hour', {local}) * 60 + date_part('minute', {local}) AS INTEGER)"


def _hhmm(col: str) -> str:
    """Minutes of an "HH:MM" text column."""
    return f"(CAST(substr({col}, 1, 2) AS INTEGER) * 60 + CAST(substr({col}, 4, 2) AS INTEGER))"


def _bool(value: bool) -> str:
    if _sqlite():
        return "1" if value else "0"
    return "true" if value else "false"


def _real() -> str:
    """A numeric argument (a share, seconds): typed, so PostgreSQL does not take it for an integer."""
    return "CAST(? AS REAL)" if _sqlite() else "CAST(? AS double precision)"


_MARK = re.compile(r"\?")


def _statement(sql: str) -> Statement:
    """SQL written with `?` for each argument, in order, as core.sql's numbered `$1 … $n`."""
    counter = iter(range(1, 10_000))
    return Statement(_MARK.sub(lambda _m: f"${next(counter)}", sql))


_TS = "COALESCE(c.scanned_at, c.created_at)"


def _admitted(one_venue: bool) -> str:
    """The counted admissions of the year (args: lo, hi[, venue]), each with its instant in seconds
    (`t`) and local day (`d`) worked out once: on SQLite every julianday() call parses the text."""
    if _sqlite():
        t, d = f"(julianday({_TS}) * 86400.0)", f"CAST(julianday({_TS}) + 0.83333334 AS INTEGER)"
    else:
        t, d = _epoch(_TS), _day(_TS)
    return f"""
    adm AS (
        SELECT c.id AS id, c.venue AS venue_id, c.booking AS booking_id, c.students AS st,
               c.chaperones AS ch, COALESCE(c.staff, 0) AS staff_id, c.device AS device,
               c.method AS method, {_TS} AS ts, {t} AS t, {d} AS d
        FROM bookings_checkin c
        WHERE c.result = 'admitted' AND c.reversed_at IS NULL AND c.needs_review = {_bool(False)}
          AND c.venue IS NOT NULL AND {_TS} >= ? AND {_TS} < ?{" AND c.venue = ?" if one_venue else ""}
    )"""


def _local_minute() -> str:
    """Minutes since local midnight of an admission of `adm a`."""
    if _sqlite():
        jd = "(a.t / 86400.0 + 0.83333334)"  # the local Julian day, noon-based (hence the +0.5)
        return f"CAST(({jd} - CAST({jd} AS INTEGER)) * 1440 AS INTEGER)"
    return _minute_of_day("a.ts")


def _local_weekday() -> str:
    return "(a.d % 7)" if _sqlite() else _weekday("a.ts")


# The admissions with their booking, slot, venue and that weekday's opening hours; the conditions of
# the per-admission kinds are written over these names. Their `?` are _condition_args(kind).
_JOINED = """
    FROM adm a
    JOIN bookings_booking b ON b.id = a.booking_id
    JOIN venues_slot sl ON sl.id = b.slot
    JOIN venues_venue v ON v.id = a.venue_id
    LEFT JOIN timetable_opening_hours oh ON oh.venue = a.venue_id AND oh.weekday = {weekday}"""
_PER_ADMISSION = ("outside_window", "outside_hours", "booked_after", "typed")


def _joined() -> str:
    return _JOINED.format(weekday=_local_weekday())


def _condition(kind: str) -> str:
    starts, ends = _epoch("sl.starts_at"), _epoch("sl.ends_at")
    if kind == "outside_window":
        return f"""({_day("sl.starts_at")} <> a.d
           OR (v.arrival_before_start_minutes IS NOT NULL
               AND a.t < {starts} - 60 * v.arrival_before_start_minutes)
           OR (v.arrival_after_end_minutes IS NOT NULL
               AND a.t > {ends} + 60 * v.arrival_after_end_minutes))"""
    if kind == "outside_hours":
        minute = _local_minute()
        return f"""(((oh.closed = {_bool(True)}
                OR (oh.opens <> '' AND oh.closes <> ''
                    AND ({minute} < {_hhmm("oh.opens")} - ? OR {minute} >= {_hhmm("oh.closes")} + ?)))
               AND (a.t < {starts} - 60 * ? OR a.t > {ends} + 60 * ?))
           OR EXISTS (SELECT 1 FROM timetable_closure cl
                      WHERE cl.venue = a.venue_id AND {_date_col("cl.day")} = a.d))"""
    if kind == "booked_after":
        return f"({_epoch('b.created_at')} > {starts} OR {_epoch('b.created_at')} > a.t)"
    if kind == "typed":
        return "(a.method = 'code')"
    raise AnomalyError("kind")


def _condition_args(kind: str, t: Thresholds) -> list[Any]:
    return [t.hours_grace_minutes] * 4 if kind == "outside_hours" else []


def _per_admission_sql() -> str:
    """Per base: how many admissions meet each per-admission condition, and how many there are."""
    sums = ",\n".join(f"SUM(CASE WHEN {_condition(k)} THEN 1 ELSE 0 END) AS {k}" for k in _PER_ADMISSION)
    return f"""SELECT a.venue_id AS venue_id, COUNT(*) AS total, {sums}
    {_joined()}
    GROUP BY a.venue_id"""


def _fast_scans() -> tuple[str, str]:
    """CTEs ending in `bursts` (id, venue_id, size): the admissions next to a too-fast gap, in runs.
    Args: seconds, seconds, seconds; then `size >= ?` filters (burst).

    One window pass over every admission finds the gaps before and after it; only admissions beside a
    fast gap go on to be numbered into runs (a run starts where the gap before is not fast)."""
    part = "PARTITION BY a.venue_id, a.staff_id, a.device"
    order = "ORDER BY a.t, a.id"
    return (
        f""",
        gaps AS (
            SELECT a.id AS id, a.venue_id AS venue_id, a.staff_id AS staff_id, a.device AS device, a.t AS t,
                   a.t - LAG(a.t) OVER ({part} {order}) AS before_gap,
                   LEAD(a.t) OVER ({part} {order}) - a.t AS after_gap
            FROM adm a
        ),
        near AS (
            SELECT g.id AS id, g.venue_id AS venue_id, g.staff_id AS staff_id, g.device AS device, g.t AS t,
                   CASE WHEN g.before_gap IS NOT NULL AND g.before_gap < {_real()} THEN 0 ELSE 1 END AS starts
            FROM gaps g
            WHERE g.before_gap < {_real()} OR g.after_gap < {_real()}
        ),
        runs AS (
            SELECT n.id AS id, n.venue_id AS venue_id, n.staff_id AS staff_id, n.device AS device,
                   SUM(n.starts) OVER (PARTITION BY n.venue_id, n.staff_id, n.device ORDER BY n.t, n.id
                                       ROWS UNBOUNDED PRECEDING) AS run
            FROM near n
        ),
        bursts AS (
            SELECT r.id AS id, r.venue_id AS venue_id,
                   COUNT(*) OVER (PARTITION BY r.venue_id, r.staff_id, r.device, r.run) AS size
            FROM runs r
        )""",
        "SELECT bu.id AS checkin_id, bu.venue_id AS venue_id FROM bursts bu WHERE bu.size >= ?",
    )


def _fast_args(t: Thresholds) -> list[Any]:
    return [t.fast_scan_seconds] * 3 + [t.fast_burst]


_OVER_ADMITTED = """,
    per AS (
        SELECT a.booking_id AS booking_id, a.venue_id AS venue_id, SUM(a.st) AS st, SUM(a.ch) AS ch
        FROM adm a GROUP BY a.booking_id, a.venue_id
    ),
    overs AS (
        SELECT per.booking_id AS booking_id, per.venue_id AS venue_id
        FROM per JOIN bookings_booking b ON b.id = per.booking_id
        WHERE per.st + per.ch > b.students + b.chaperones OR per.st > b.students
           OR per.ch > b.chaperones OR b.admitted_students > b.students
           OR b.admitted_chaperones > b.chaperones
    )"""


def _records(kind: str) -> tuple[str, str]:
    """Extra CTEs after `adm`, and the query of a check-in kind's records (checkin_id, venue_id)."""
    if kind in _PER_ADMISSION:
        return "", f"SELECT a.id AS checkin_id, a.venue_id AS venue_id {_joined()} WHERE {_condition(kind)}"
    if kind == "fast_scans":
        return _fast_scans()
    if kind == "over_admitted":
        return (
            _OVER_ADMITTED,
            """
        SELECT a.id AS checkin_id, a.venue_id AS venue_id
        FROM adm a WHERE a.booking_id IN (SELECT o.booking_id FROM overs o)""",
        )
    raise AnomalyError("kind")


def _kind_args(kind: str, t: Thresholds) -> list[Any]:
    return _fast_args(t) if kind == "fast_scans" else _condition_args(kind, t)


def _daily(one_venue: bool) -> str:
    """People admitted per base and local day, from the venue-day running totals (the counted check-ins
    of each day, kept by the database; evaluation/piccolo_migrations). Args: first and last day as
    Julian day numbers[, venue]; then `days >= ?` and the share."""
    return f"""WITH daily AS (
        SELECT venue AS venue_id, local_day AS d, students + chaperones AS people, checkins AS n
        FROM evaluation_venue_day
        WHERE checkins > 0 AND local_day >= ? AND local_day <= ?{" AND venue = ?" if one_venue else ""}
    ),
    freq AS (SELECT venue_id, people, COUNT(*) AS days FROM daily GROUP BY venue_id, people),
    opened AS (SELECT venue_id, COUNT(*) AS days FROM daily GROUP BY venue_id),
    repeated AS (
        SELECT f.venue_id AS venue_id, f.people AS people, f.days AS days, o.days AS open_days
        FROM freq f JOIN opened o ON o.venue_id = f.venue_id
        WHERE f.days >= ? AND 100 * f.days >= {_real()} * o.days
    )"""


_VENUES = Statement("SELECT id, name, district FROM venues_venue")


def _int(v: Any) -> int:
    return int(v or 0)


async def summary(year: int, t: Thresholds = DEFAULTS, venue_id: int | None = None) -> Summary:
    """Every flag of the year in the city (or at one base): four aggregate queries, side by side."""
    lo, hi = clock.year_bounds(year)
    one = venue_id is not None
    base = [lo, hi, venue_id] if one else [lo, hi]
    adm = _admitted(one)
    fast_ctes, fast_records = _fast_scans()
    per_admission_args = [a for k in _PER_ADMISSION for a in _condition_args(k, t)]
    venue_rows, per_admission, fast, over, repeated = await asyncio.gather(
        _VENUES.fetch(),
        _statement(f"WITH {adm} {_per_admission_sql()}").fetch(*base, *per_admission_args),
        _statement(
            f"""WITH {adm}{fast_ctes}
            SELECT x.venue_id AS venue_id, COUNT(*) AS n FROM ({fast_records}) x GROUP BY x.venue_id"""
        ).fetch(*base, *_fast_args(t)),
        _statement(
            f"""WITH {adm}{_OVER_ADMITTED}
            SELECT o.venue_id AS venue_id, COUNT(*) AS n FROM overs o GROUP BY o.venue_id"""
        ).fetch(*base),
        _statement(f"{_daily(one)} SELECT venue_id, people, days, open_days FROM repeated").fetch(
            *year_days(year), *([venue_id] if one else []), t.same_headcount_days, t.same_headcount_share_pct
        ),
    )
    venues = {int(r["id"]): r for r in venue_rows}
    flags: list[Flag] = []

    def add(kind: str, venue_id: int, count: int, **figures: Any) -> None:
        v = venues.get(venue_id) or {"name": "", "district": ""}
        flags.append(Flag(kind, venue_id, v["name"], v["district"], count, figures))

    for r in per_admission:
        vid, total = int(r["venue_id"]), _int(r["total"])
        for kind in ("outside_window", "outside_hours", "booked_after"):
            if _int(r[kind]):
                add(kind, vid, _int(r[kind]))
        typed = _int(r["typed"])
        if total >= t.typed_min_admissions and typed and 100 * typed >= t.typed_share_pct * total:
            add("typed", vid, typed, total=total, share=round(100.0 * typed / total, 1))
    for r in fast:
        add("fast_scans", int(r["venue_id"]), _int(r["n"]))
    for r in over:
        add("over_admitted", int(r["venue_id"]), _int(r["n"]))
    best: dict[int, dict[str, Any]] = {}
    for r in repeated:
        vid = int(r["venue_id"])
        if vid not in best or _int(r["days"]) > _int(best[vid]["days"]):
            best[vid] = r
    for vid, r in best.items():
        add("same_headcount", vid, _int(r["days"]), people=_int(r["people"]), open_days=_int(r["open_days"]))
    order = list(KINDS)
    flags.sort(key=lambda f: (order.index(f.kind), -f.count, f.venue_id))
    return Summary(year, flags)


# ---- evidence of one flag at one base -------------------------------------------------------------


_EVIDENCE_COLUMNS = """
    c.id AS checkin_id, c.booking AS booking_id, b.code AS code, sl.starts_at AS starts_at,
    sl.ends_at AS ends_at, c.scanned_at AS scanned_at, c.created_at AS created_at,
    c.students AS students, c.chaperones AS chaperones, c.method AS method, c.device AS device,
    c.offline AS offline, COALESCE(u.display_name, '') AS staff_name,
    COALESCE(u.username, '') AS staff_username,
    b.students AS booked_students, b.chaperones AS booked_chaperones, b.created_at AS booked_at"""


def _checkin_evidence_sql(kind: str) -> str:
    ctes, records = _records(kind)
    return f"""WITH {_admitted(True)}{ctes}
    SELECT {_EVIDENCE_COLUMNS}
    FROM ({records}) x
    JOIN bookings_checkin c ON c.id = x.checkin_id
    LEFT JOIN bookings_booking b ON b.id = c.booking
    LEFT JOIN venues_slot sl ON sl.id = b.slot
    LEFT JOIN accounts_user u ON u.id = c.staff
    ORDER BY {_epoch(_TS)}, c.id
    LIMIT ?"""


def _days_evidence_sql() -> str:
    return f"""{_daily(True)}
    SELECT d.d AS d, d.people AS people, d.n AS checkins
    FROM daily d JOIN repeated r ON r.venue_id = d.venue_id AND r.people = d.people
    ORDER BY d.d
    LIMIT ?"""


def _when(v: Any) -> datetime | None:
    """An instant from a row (SQLite may hand back the stored text), aware, shown in Asia/Shanghai."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if isinstance(v, datetime):
        return clock.local(v if v.tzinfo is not None else v.replace(tzinfo=UTC))
    return None


async def evidence(venue_id: int, year: int, kind: str, t: Thresholds = DEFAULTS) -> Evidence:
    """The first records behind one flag at one base (and the flag itself, None when not raised)."""
    if kind not in KINDS:
        raise AnomalyError("kind")
    lo, hi = clock.year_bounds(year)
    flagged = next((f for f in (await summary(year, t, venue_id)).flags if f.kind == kind), None)
    if kind == "same_headcount":
        rows = await _statement(_days_evidence_sql()).fetch(
            *year_days(year), venue_id, t.same_headcount_days, t.same_headcount_share_pct, t.evidence_limit
        )
        days = [
            {"d": row_day(r["d"]), "people": _int(r["people"]), "checkins": _int(r["checkins"])} for r in rows
        ]
        return Evidence(kind, "days", days, flagged)
    if flagged is None:
        return Evidence(kind, "checkins", [], None)  # typed codes at a base under the bar are no anomaly
    rows = await _statement(_checkin_evidence_sql(kind)).fetch(
        lo, hi, venue_id, *_kind_args(kind, t), t.evidence_limit
    )
    records = []
    for r in rows:
        scanned = _when(r["scanned_at"])
        created = _when(r["created_at"])
        records.append(
            {
                **r,
                "starts_at": _when(r["starts_at"]),
                "ends_at": _when(r["ends_at"]),
                "booked_at": _when(r["booked_at"]),
                "scan_time": scanned or created,
                "received_at": created,
                "offline": bool(r["offline"]),
                "staff": r["staff_name"] or r["staff_username"],
                "booked": _int(r["booked_students"]) + _int(r["booked_chaperones"]),
            }
        )
    return Evidence(kind, "checkins", records, flagged)
