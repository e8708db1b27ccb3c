"""The yearly evaluation of a whole city, timed: the auditor's scorecard pages and exports over HTTP from a
`kepu serve` process, cold (its first request) and warm, with the raw SQL beside them in the database's
own command-line client. Run by hand on a city written by bench.citygen (the full scale takes minutes):

    DATABASE_URL=sqlite:///bench/data/city.sqlite3 python -m bench.citygen --scale full --year 2025
    python -m bench.cityeval --db sqlite:///bench/data/city.sqlite3 --year 2025 [--label "…"]

Two raw SQL figures are given: the aggregation kepu runs (over the running totals the database keeps
with triggers, see evaluation/piccolo_migrations) and the same figures added up from the check-ins and
bookings themselves (what the totals save). `--label` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import date
from typing import Any

from bench.run import RESULTS, _session, _start_servers, cli_sql_ms, machine

# The same figures from the check-ins and bookings themselves (the aggregation before the running totals).
_CHECKINS_FROM_ROWS = {
    "sqlite": """
SELECT venue, mon, COUNT(DISTINCT d), COUNT(DISTINCT CASE WHEN d % 7 IN (5, 6) THEN d END),
       SUM(st + ch), SUM(st), SUM(ch)
FROM (SELECT c.venue AS venue, c.students AS st, c.chaperones AS ch,
             CAST(julianday(COALESCE(c.scanned_at, c.created_at)) + 0.83333334 AS INTEGER) AS d,
             CAST(strftime('%m', COALESCE(c.scanned_at, c.created_at), '+8 hours') AS INTEGER) AS mon
      FROM bookings_checkin c
      WHERE c.result = 'admitted' AND c.reversed_at IS NULL AND c.needs_review = 0 AND c.venue IS NOT NULL
        AND COALESCE(c.scanned_at, c.created_at) >= {} AND COALESCE(c.scanned_at, c.created_at) < {}) a
GROUP BY venue, mon""",
    "postgres": """
SELECT venue, mon, COUNT(DISTINCT d), COUNT(DISTINCT CASE WHEN EXTRACT(ISODOW FROM d) IN (6, 7) THEN d END),
       SUM(st + ch), SUM(st), SUM(ch)
FROM (SELECT c.venue AS venue, c.students AS st, c.chaperones AS ch,
             CAST((COALESCE(c.scanned_at, c.created_at) AT TIME ZONE 'Asia/Shanghai') AS date) AS d,
             CAST(EXTRACT(MONTH FROM (COALESCE(c.scanned_at, c.created_at) AT TIME ZONE 'Asia/Shanghai'))
                  AS INTEGER) AS mon
      FROM bookings_checkin c
      WHERE c.result = 'admitted' AND c.reversed_at IS NULL AND NOT c.needs_review AND c.venue IS NOT NULL
        AND COALESCE(c.scanned_at, c.created_at) >= {} AND COALESCE(c.scanned_at, c.created_at) < {}) a
GROUP BY venue, mon""",
}
_ADM = "b.admitted_students + b.admitted_chaperones"
_BOOKINGS_FROM_ROWS = f"""
SELECT b.venue,
       SUM(CASE WHEN {_ADM} > 0 THEN 1 ELSE 0 END),
       COUNT(DISTINCT CASE WHEN {_ADM} > 0 THEN b.school END),
       COUNT(DISTINCT CASE WHEN {_ADM} > 0 THEN s.district END),
       COUNT(DISTINCT CASE WHEN {_ADM} > 0 AND sl.kind = 'school_visit' THEN sl.id END),
       COUNT(DISTINCT CASE WHEN {_ADM} > 0 AND ((sl.starts_at >= {{}} AND sl.starts_at < {{}})
                                          OR (sl.starts_at >= {{}} AND sl.starts_at < {{}})) THEN sl.id END),
       SUM(CASE WHEN b.grade_band = 'preschool' THEN b.admitted_students ELSE 0 END),
       SUM(CASE WHEN b.grade_band IN ('primary_low', 'primary_high') THEN b.admitted_students ELSE 0 END),
       SUM(CASE WHEN b.grade_band = 'junior' THEN b.admitted_students ELSE 0 END),
       SUM(CASE WHEN b.grade_band = 'senior' THEN b.admitted_students ELSE 0 END),
       SUM(CASE WHEN b.grade_band IS NULL OR b.grade_band NOT IN
                     ('preschool', 'primary_low', 'primary_high', 'junior', 'senior')
                THEN b.admitted_students ELSE 0 END),
       SUM(CASE WHEN b.status = 'confirmed' AND sl.ends_at < {{}} THEN 1 ELSE 0 END),
       SUM(CASE WHEN b.status = 'confirmed' AND sl.ends_at < {{}} THEN b.students + b.chaperones ELSE 0 END),
       SUM(CASE WHEN b.status = 'confirmed' AND sl.ends_at < {{}} THEN {_ADM} ELSE 0 END),
       SUM(CASE WHEN b.status = 'confirmed' AND sl.ends_at < {{}} AND {_ADM} = 0 THEN 1 ELSE 0 END),
       SUM(CASE WHEN sl.cancelled_at IS NULL AND sl.ends_at < {{}} THEN {_ADM} ELSE 0 END)
FROM bookings_booking b
JOIN venues_slot sl ON sl.id = b.slot
JOIN accounts_school s ON s.id = b.school
WHERE sl.starts_at >= {{}} AND sl.starts_at < {{}}
GROUP BY b.venue"""


def _queries(database_url: str, year: int) -> dict[str, list[tuple[str, tuple[Any, ...]]]]:
    """The raw SQL of the city's year: kepu's (over the running totals) and from the rows themselves."""
    from core import clock
    from evaluation import scorecard as sc

    lo, hi = clock.year_bounds(year)
    now = clock.now()
    periods = sc.campaign_periods(year)  # the rule's dates; what the auditor set changes nothing here
    (wk_lo, wk_hi), (sd_lo, sd_hi) = periods["science_week"], periods["science_day"]
    camp = (
        clock.day_bounds(wk_lo)[0],
        clock.day_bounds(wk_hi)[1],
        clock.day_bounds(sd_lo)[0],
        clock.day_bounds(sd_hi)[1],
    )
    days = (date(year, 1, 1).toordinal() + sc.JDN_OFFSET, date(year, 12, 31).toordinal() + sc.JDN_OFFSET)
    capacity = (
        """SELECT venue, SUM(capacity) FROM venues_slot
                   WHERE cancelled_at IS NULL AND starts_at >= {} AND starts_at < {} AND ends_at < {}
                   GROUP BY venue""",
        (lo, hi, now),
    )
    engine = "sqlite" if database_url.startswith("sqlite") else "postgres"
    return {
        "kepu's aggregation (running totals)": [
            (sc._DAYS_SQL, days),
            (sc._SLOTS_SQL, (now, *camp, lo, hi)),
            (sc._SCHOOLS_SQL, (year,)),
        ],
        "the same from every check-in and booking": [
            (_CHECKINS_FROM_ROWS[engine], (lo, hi)),
            (_BOOKINGS_FROM_ROWS, (*camp, now, now, now, now, now, lo, hi)),
            capacity,
        ],
    }


async def _busiest_venue(year: int) -> int:
    from core.db import database_lifespan
    from venues.tables import Venue

    async with database_lifespan(pool_size=1):
        rows = await Venue.raw(
            "SELECT venue FROM evaluation_venue_day WHERE local_day >= {} GROUP BY venue "
            "ORDER BY SUM(checkins) DESC LIMIT 1",
            date(year, 1, 1).toordinal() + 1721425,
        )
    return int(rows[0]["venue"])


async def _pages(url: str, cookie: str, year: int, pid: int) -> list[dict[str, str]]:
    from bench.load import Call, run

    rows = []
    headers = {"Cookie": cookie}
    busiest = await _busiest_venue(year)
    for path, label in (
        (f"/audit/scorecards?year={year}", "scorecards page"),
        (f"/audit?year={year}", "dashboard"),
        (f"/audit/scorecards/{busiest}?year={year}", "one base's year"),
        (f"/audit/targets?year={year}", "city targets"),
        (f"/audit/anomalies?year={year}", "anomaly flags"),
        (f"/audit/scorecards.csv?year={year}", "scorecards CSV"),
        (f"/audit/scorecards.xlsx?year={year}", "scorecards XLSX"),
        (f"/audit/national-stats.csv?year={year}", "national statistics CSV"),
    ):
        for label2, n in (("cold", 1), ("warm ×5", 5)):
            r = await run(
                f"{label}: {label2}",
                [Call("GET", url + path, headers=headers)] * n,
                concurrency=1,
                server_pids=[pid],
            )
            assert set(r.statuses) == {200}, (path, r.statuses)
            rows.append(r.row())
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cityeval", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="DATABASE_URL of a city written by bench.citygen")
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--label", help="append the results to bench/RESULTS.md under this heading")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.db
    env = {**os.environ}
    from bench.citygen import PASSWORD

    servers = _start_servers(env, 1)
    proc, url = servers[0]
    try:
        cookie = _session(url, "bench_auditor", PASSWORD)
        rows = asyncio.run(_pages(url, cookie, args.year, proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    for label, queries in _queries(args.db, args.year).items():
        rows.append(
            {
                "scenario": f"raw SQL in the CLI client: {label}",
                "p50 ms": f"{cli_sql_ms(args.db, queries):.1f}",
            }
        )
    columns = ["scenario", "requests", "p50 ms", "max ms", "statuses", "server CPU ms/req", "peak RSS MB"]
    engine = "SQLite" if args.db.startswith("sqlite") else "PostgreSQL"
    table = [
        f"{engine}, one `kepu serve` process, year {args.year}:",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows),
    ]
    print("\n".join(table))
    if args.label:
        text = RESULTS.read_text().rstrip()
        RESULTS.write_text(
            f"{text}\n\n### {args.label}\n\n- machine: {machine()}\n\n" + "\n".join(table) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
