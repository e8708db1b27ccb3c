"""The evaluation's running totals checked against the rows they add up.

The database keeps the totals with triggers (the migration below defines them, and how to recount
them from the check-ins and bookings). A trigger cannot be bypassed by kepu, but someone with direct
access to the database could edit a total, or load rows with triggers off; `kepu audit verify` runs
`drift()` after checking the hash chains, so the figures the scorecards show are tied to the check-ins
the chains vouch for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from core.db import is_sqlite
from venues.tables import Venue

# The totals' definition lives in the migration that made them; a later migration that changes them
# points this at itself.
DEFINITION: Any = importlib.import_module(
    "evaluation.piccolo_migrations.evaluation_2026_11_25t04_00_00_000000"
)
# Per table: how many of its leading columns are the key.
KEYS = {"evaluation_venue_day": 2, "evaluation_slot_tally": 1, "evaluation_venue_school": 3}


@dataclass
class Drift:
    table: str
    key: tuple[int, ...]
    kept: tuple[int, ...] | None
    recounted: tuple[int, ...] | None


async def _rows(sql: str, n_key: int, table: str) -> dict[tuple[int, ...], tuple[int, ...]]:
    """{key: values} of the rows with any count (a total that went back to zero may stay as a row of
    zeros; a venue-day's month is a label, not a count)."""
    out: dict[tuple[int, ...], tuple[int, ...]] = {}
    for r in await Venue.raw(sql):
        values = [int(v or 0) for v in r.values()]
        key, rest = tuple(values[:n_key]), tuple(values[n_key:])
        counts = rest[1:] if table == "evaluation_venue_day" else rest
        if any(counts):
            out[key] = rest
    return out


async def drift() -> list[Drift]:
    """Every row where a kept total and the recount from the check-ins and bookings differ."""
    found: list[Drift] = []
    for table, (cols, select) in DEFINITION.recount(is_sqlite()).items():
        n = KEYS[table]
        kept = await _rows(f"SELECT {cols} FROM {table}", n, table)
        recounted = await _rows(select, n, table)
        for key in sorted(set(kept) | set(recounted)):
            if kept.get(key) != recounted.get(key):
                found.append(Drift(table, key, kept.get(key), recounted.get(key)))
    return found


def describe(found: list[Drift], limit: int = 5) -> list[str]:
    """Sentences for the first differences."""
    lines = [
        f"{d.table} {d.key}: kept {d.kept or 'nothing'}, the rows add up to {d.recounted or 'nothing'}"
        for d in found[:limit]
    ]
    if len(found) > limit:
        lines.append(f"… and {len(found) - limit} more")
    return lines
