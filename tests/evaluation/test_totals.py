"""The running totals the scorecards add up (evaluation/piccolo_migrations) against the same totals
recomputed from the check-ins and bookings, after every kind of change the database can see: scans,
partial arrivals, denied scans, an offline admission waiting for review, reversals, a cancellation,
headcount changes, a booking moved to another slot, a slot moved into another year, a check-in written
directly (as a bulk load does), then deleted with its booking. On both engines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bookings.tables import Booking, CheckIn
from core import clock, db
from evaluation import metrics, scorecard, totals
from tests.evaluation.test_scorecard import at, city  # noqa: F401  (the hand-computed fixture)
from venues.tables import Slot, Venue

MIGRATION = totals.DEFINITION
_KEYS = totals.KEYS


async def drift() -> dict[str, Any]:
    """Per table: the rows where the kept totals and a recount from the rows themselves differ."""
    out: dict[str, Any] = {}
    for d in await totals.drift():
        out.setdefault(d.table, {})[d.key] = (d.kept, d.recounted)
    return out


async def _table(sql: str, n_key: int, table: str) -> dict[tuple[int, ...], tuple[int, ...]]:
    return await totals._rows(sql, n_key, table)


async def test_totals_follow_every_change(city: dict[str, Any]) -> None:  # noqa: F811
    w = city["w"]
    assert not (found := await drift()), found
    kept = await Venue.raw("SELECT COUNT(*) AS n FROM evaluation_venue_day")
    assert int(kept[0]["n"]) > 0  # the fixture's scans were counted as they happened

    # Headcount changes, as the booking's own columns (every path that writes them meets the trigger).
    await Booking.update({Booking.students: 35}).where(Booking.id == city["b1"]["id"])
    await Booking.update({Booking.grade_band: "junior"}).where(Booking.id == city["b3"]["id"])
    # A booking moved to another slot of the same venue (b6 → the slot of b3).
    await Booking.update({Booking.slot: city["b3"]["slot_id"]}).where(Booking.id == city["b6"]["id"])
    # A check-in written directly (a bulk load) for b6, then reversed.
    await CheckIn.insert(
        CheckIn(
            booking=city["b6"]["id"],
            venue=w.venue_a,
            result="admitted",
            students=5,
            chaperones=1,
            created_at=at(date(2030, 3, 9), 10),
        )
    )
    await Booking.update({Booking.admitted_students: 5, Booking.admitted_chaperones: 1}).where(
        Booking.id == city["b6"]["id"]
    )
    assert not (found := await drift()), found
    await CheckIn.update({CheckIn.reversed_at: clock.now()}).where(
        (CheckIn.booking == city["b6"]["id"]) & CheckIn.reversed_at.is_null()
    )
    await Booking.update({Booking.admitted_students: 0, Booking.admitted_chaperones: 0}).where(
        Booking.id == city["b6"]["id"]
    )
    # Venue B's December slot moves into January of the next year: its school leaves 2030.
    b7_slot = (await Slot.select(Slot.id).where(Slot.venue == w.venue_b).order_by(Slot.starts_at).first())[
        "id"
    ]
    before = await scorecard.city_year(2030)
    assert next(c for c in before.cards if c.venue_id == w.venue_b).figures["distinct_schools"] == 1
    await Slot.update(
        {Slot.starts_at: at(date(2031, 1, 3), 10), Slot.ends_at: at(date(2031, 1, 3), 12)}
    ).where(Slot.id == b7_slot)
    after = await scorecard.city_year(2030)
    assert next(c for c in after.cards if c.venue_id == w.venue_b).figures["distinct_schools"] == 0
    assert not (found := await drift()), found
    # Rows deleted: the directly written check-in (not in the ledger), then its booking.
    b6 = city["b6"]["id"]
    await CheckIn.delete().where(CheckIn.booking == b6)
    await Booking.delete().where(Booking.id == b6)
    assert not (found := await drift()), found


async def test_report_and_scorecards_match_a_recount(city: dict[str, Any]) -> None:  # noqa: F811
    """The venue report (API and /audit) from the totals equals the same report from the rows."""
    report = await metrics.venue_year_report(2030)
    rows = await Venue.raw(
        """SELECT b.venue AS venue_id, COUNT(*) AS bookings, SUM(b.students + b.chaperones) AS people,
                  SUM(b.admitted_students) AS st, SUM(b.admitted_chaperones) AS ch
           FROM bookings_booking b JOIN venues_slot sl ON sl.id = b.slot
           WHERE b.status NOT IN ('cancelled', 'declined') AND sl.starts_at >= {} AND sl.starts_at < {}
           GROUP BY b.venue""",
        *clock.year_bounds(2030),
    )
    by_venue = {r["venue_id"]: r for r in rows}
    assert by_venue
    for item in report.items:
        r = by_venue.get(item.venue_id)
        expected = (int(r["bookings"]), int(r["people"]), int(r["st"]), int(r["ch"])) if r else (0, 0, 0, 0)
        got = (item.bookings, item.people_booked, item.students_admitted, item.chaperones_admitted)
        assert got == expected, item


@pytest.mark.parametrize("table", sorted(_KEYS))
async def test_migration_fills_the_totals_from_existing_rows(city: dict[str, Any], table: str) -> None:  # noqa: F811
    """An installation that upgrades gets totals equal to what the triggers would have kept."""
    cols, _select = MIGRATION.recount(db.is_sqlite())[table]
    kept = await _table(f"SELECT {cols} FROM {table}", _KEYS[table], table)
    await Venue.raw(f"DELETE FROM {table}")
    for statement in MIGRATION.backfill(db.is_sqlite()):
        if f"INTO {table} " in statement:
            await Venue.raw(statement)
    assert await _table(f"SELECT {cols} FROM {table}", _KEYS[table], table) == kept
