"""Yearly figures per venue, one aggregate query; admissions come from check-ins, never from bookings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import msgspec

from core import clock
from core.errors import DomainError
from core.i18n import N_
from evaluation.schemas import VenueYearReport, VenueYearRow
from venues.tables import Venue

MIN_YEAR, MAX_YEAR = 2000, 2100


class ReportError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "bad_year": (422, N_("Give a year between {low} and {high}, e.g. year=2026.")),
    }


# Bookings that are neither cancelled nor declined count as booked; admissions are the counts
# recorded at the door (kept on the booking by every check-in); a no-show is a confirmed booking
# whose slot has ended with nobody admitted. The booking figures come from each slot's running totals,
# which the database keeps in the same transaction as every change to a booking (see
# evaluation/piccolo_migrations; tests/evaluation/test_totals.py checks them against the bookings).
_SQL = """
SELECT v.id AS venue_id, v.name AS venue_name, v.district AS district, v.kind AS kind,
       COALESCE(s.slots, 0) AS slots,
       COALESCE(s.capacity, 0) AS capacity,
       COALESCE(s.bookings, 0) AS bookings,
       COALESCE(s.people_booked, 0) AS people_booked,
       COALESCE(s.students_admitted, 0) + COALESCE(s.chaperones_admitted, 0) AS people_admitted,
       COALESCE(s.students_admitted, 0) AS students_admitted,
       COALESCE(s.chaperones_admitted, 0) AS chaperones_admitted,
       COALESCE(s.no_show_bookings, 0) AS no_show_bookings
FROM venues_venue v
LEFT JOIN (
    SELECT sl.venue AS venue_id, COUNT(*) AS slots, SUM(sl.capacity) AS capacity,
           SUM(t.live_bookings) AS bookings,
           SUM(t.live_people) AS people_booked,
           SUM(t.live_students_admitted) AS students_admitted,
           SUM(t.live_chaperones_admitted) AS chaperones_admitted,
           SUM(CASE WHEN sl.ends_at < {} THEN t.no_shows ELSE 0 END) AS no_show_bookings
    FROM venues_slot sl
    LEFT JOIN evaluation_slot_tally t ON t.slot = sl.id
    WHERE sl.starts_at >= {} AND sl.starts_at < {}
    GROUP BY sl.venue
) s ON s.venue_id = v.id
ORDER BY v.id
"""


def check_year(year: int | None) -> int:
    if year is None or not (MIN_YEAR <= year <= MAX_YEAR):
        raise ReportError("bad_year", low=MIN_YEAR, high=MAX_YEAR)
    return year


def chosen_year(year: int | None) -> int:
    """The year asked for, this year when none was given (ReportError outside MIN_YEAR..MAX_YEAR)."""
    return check_year(year if year is not None else clock.today().year)


def year_choices() -> list[int]:
    """The years the auditor's pages offer: next year, this year and the four before."""
    this_year = clock.today().year
    return list(range(this_year + 1, this_year - 5, -1))


async def venue_year_report(year: int) -> VenueYearReport:
    year = check_year(year)
    lo, hi = clock.year_bounds(year)
    rows = await Venue.raw(_SQL, clock.now(), lo, hi)
    # SUM over integers comes back as Decimal on PostgreSQL; the figures are whole numbers.
    items = [
        msgspec.convert({k: (v if k in _TEXT else int(v)) for k, v in r.items()}, VenueYearRow) for r in rows
    ]
    return VenueYearReport(year=year, items=items)


_TEXT = ("venue_name", "district", "kind")


CSV_FIELDS = list(VenueYearRow.__struct_fields__)


def csv_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV (CRLF) in UTF-8 with a BOM so spreadsheet programs show Chinese correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def report_csv(report: VenueYearReport) -> bytes:
    """CSV with the JSON keys as header (see csv_bytes)."""
    return csv_bytes(CSV_FIELDS, ([getattr(row, f) for f in CSV_FIELDS] for row in report.items))
