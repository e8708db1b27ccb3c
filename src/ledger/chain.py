"""Appending to a venue's chain, and what a record says.

Each entry stores the canonical JSON of what it records (`payload`) and SHA-256 over the previous
entry's hash and that payload, so changing or removing any entry breaks every hash after it. The
venue's tip row is locked while an entry is added (SELECT … FOR UPDATE on PostgreSQL; SQLite's
IMMEDIATE write transaction already admits one writer), so concurrent doors never fork a chain, and a
UNIQUE (venue, seq) index would refuse a fork anyway.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from core.db import engine, insert_chunked, is_sqlite
from core.sql import Statement

GENESIS = "0" * 64
SCAN_FIELDS = (
    "id",
    "booking",
    "venue",
    "result",
    "students",
    "chaperones",
    "staff",
    "device",
    "offline",
    "nonce",
    "scanned_at",
    "needs_review",
    "created_at",
    "method",
)
BOOL_FIELDS = frozenset({"offline", "needs_review"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not in a ledger record: {value!r}")


def canonical(record: dict[str, Any]) -> str:
    """The one text of a record: sorted keys, no spaces, UTC timestamps to the microsecond."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def entry_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def scan_record(row: dict[str, Any]) -> dict[str, Any]:
    """What the ledger keeps of a check-in row (either engine's types: SQLite's booleans are 0/1)."""
    return {f: bool(row[f]) if f in BOOL_FIELDS else row[f] for f in SCAN_FIELDS}


def reversal_record(
    checkin_id: int, by: int | None, at: datetime, reason: str, students: int, chaperones: int
) -> dict[str, Any]:
    """What the ledger keeps of a supervisor's reversal of an admission."""
    return {
        "corrects": checkin_id,
        "by": by,
        "at": at,
        "reason": reason,
        "students": students,
        "chaperones": chaperones,
    }


_TIP_LOCKED = Statement("SELECT seq, hash FROM ledger_tip WHERE venue = $1 FOR UPDATE")
_TIP = Statement("SELECT seq, hash FROM ledger_tip WHERE venue = $1")
_NEW_TIP = Statement(
    "INSERT INTO ledger_tip (venue, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (venue) DO NOTHING"
)
_MOVE_TIP = Statement("UPDATE ledger_tip SET seq = $1, hash = $2 WHERE venue = $3")
_ADD_ENTRY = Statement(
    "INSERT INTO ledger_entry (venue, seq, kind, checkin, payload, prev_hash, hash, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)


async def ensure_tip(venue_id: int) -> None:
    """Give a venue its chain's tip row (at the genesis hash) if it has none yet."""
    await _NEW_TIP.execute(venue_id, GENESIS)


async def append(venue_id: int, kind: str, checkin_id: int, record: dict[str, Any], now: datetime) -> int:
    """Add a record to the venue's chain inside the caller's write transaction; its position (seq)."""
    if engine().current_transaction.get() is None:
        raise RuntimeError("ledger.append belongs inside write_transaction(), with the change it records")
    tip_query = _TIP if is_sqlite() else _TIP_LOCKED
    tip = await tip_query.fetchrow(venue_id)
    if tip is None:
        # The venue's first record: two first records at once meet on the unique venue; one waits.
        await _NEW_TIP.execute(venue_id, GENESIS)
        tip = await tip_query.fetchrow(venue_id)
        assert tip is not None
    seq = int(tip["seq"]) + 1
    payload = canonical(record)
    digest = entry_hash(str(tip["hash"]), payload)
    await _ADD_ENTRY.execute(venue_id, seq, kind, checkin_id, payload, tip["hash"], digest, now)
    await _MOVE_TIP.execute(seq, digest, venue_id)
    return seq


_UNCHAINED = Statement(
    "SELECT c.id, c.booking, c.venue, c.result, c.students, c.chaperones, c.staff, c.device, c.offline,"
    " c.nonce, c.scanned_at, c.needs_review, c.created_at, c.method FROM bookings_checkin c"
    " WHERE c.venue IS NOT NULL AND NOT EXISTS"
    " (SELECT 1 FROM ledger_entry e WHERE e.kind = 'scan' AND e.checkin = c.id)"
    " ORDER BY c.venue, c.id"
)
_TIPS = Statement("SELECT venue, seq, hash FROM ledger_tip")


async def chain_bulk_loaded() -> int:
    """Chain the check-ins written in bulk (the demo, the benchmark city) that are not in the ledger yet,
    per venue in id order, inside the caller's write transaction. Returns how many were chained."""
    from ledger.tables import LedgerEntry, LedgerTip

    if engine().current_transaction.get() is None:
        raise RuntimeError("chain_bulk_loaded belongs inside write_transaction()")
    tips = {int(r["venue"]): (int(r["seq"]), str(r["hash"])) for r in await _TIPS.fetch()}
    entries: list[LedgerEntry] = []
    moved: dict[int, tuple[int, str]] = {}
    for row in await _UNCHAINED.fetch():
        venue = int(row["venue"])
        seq, prev = moved.get(venue) or tips.get(venue) or (0, GENESIS)
        payload = canonical(scan_record(row))
        digest = entry_hash(prev, payload)
        entries.append(
            LedgerEntry(
                venue=venue,
                seq=seq + 1,
                kind="scan",
                checkin=row["id"],
                payload=payload,
                prev_hash=prev,
                hash=digest,
                created_at=row["created_at"],
            )
        )
        moved[venue] = (seq + 1, digest)
    await insert_chunked(LedgerEntry, entries, chunk=500)
    for venue, (seq, digest) in moved.items():
        if venue in tips:
            await _MOVE_TIP.execute(seq, digest, venue)
        else:
            await LedgerTip.insert(LedgerTip(venue=venue, seq=seq, hash=digest))
    return len(entries)
