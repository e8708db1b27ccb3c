"""Publishing signed daily chain heads, and checking the chains against the check-ins and the heads.

Each evening's heads are signed with the installation's Ed25519 key and published: kept in the
database, written to a digest file (and mailed where configured). The association keeps its copies;
`kepu audit verify --digest FILE` then proves that no record before a published head was changed or
removed since — even by someone who could write to the database, who could re-sign heads there but
not the copies already handed out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import nacl.exceptions
import nacl.signing

from bookings import keys
from core import clock
from core.db import write_transaction
from core.sql import Statement
from ledger.chain import GENESIS, canonical, entry_hash, reversal_record, scan_record

DIGEST_HEADER = "# kepu ledger heads"


def head_message(day: date, venue: int, seq: int, digest: str) -> bytes:
    return f"kepu-ledger-head|{day.isoformat()}|{venue}|{seq}|{digest}".encode()


@dataclass(frozen=True)
class Head:
    day: date
    venue: int
    seq: int
    hash: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        fields = (self.day.isoformat(), self.venue, self.seq, self.hash, self.key_id, self.signature.hex())
        return " ".join(map(str, fields))


def parse_digest(text: str) -> list[Head]:
    """The heads in a digest file; a line that is not one raises ValueError naming its number."""
    heads = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            day, venue, seq, digest, kid, signature = parts
            when, signed = date.fromisoformat(day), bytes.fromhex(signature)
            heads.append(Head(when, int(venue), int(seq), digest, int(kid), signed))
        except ValueError as exc:
            raise ValueError(f"line {number} of the digest is not a ledger head") from exc
    return heads


_HEADS_AT = Statement(
    """SELECT e.venue, e.seq, e.hash FROM ledger_entry e
       JOIN (SELECT venue, MAX(seq) AS seq FROM ledger_entry WHERE created_at < $1 GROUP BY venue) last
         ON last.venue = e.venue AND last.seq = e.seq"""
)
_ADD_HEAD = Statement(
    "INSERT INTO ledger_head (day, venue, seq, hash, key_id, signature, published_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day, venue) DO NOTHING"
)
_HEADS_OF_DAY = Statement(
    "SELECT day, venue, seq, hash, key_id, signature FROM ledger_head WHERE day = $1 ORDER BY venue"
)


async def publish(day: date) -> list[Head]:
    """Sign every venue's chain head as it stood at the end of `day` (Beijing time); idempotent."""
    key = await keys.ensure_key()
    assert key.private_key is not None
    signer = nacl.signing.SigningKey(key.private_key)
    end = clock.day_bounds(day)[1]
    async with write_transaction():
        for row in await _HEADS_AT.fetch(end):
            message = head_message(day, row["venue"], row["seq"], row["hash"])
            await _ADD_HEAD.execute(
                day,
                row["venue"],
                row["seq"],
                row["hash"],
                key.kid,
                signer.sign(message).signature,
                clock.now(),
            )
    return await heads_of(day)


async def heads_of(day: date) -> list[Head]:
    return [
        Head(r["day"], r["venue"], r["seq"], r["hash"], r["key_id"], bytes(r["signature"]))
        for r in await _HEADS_OF_DAY.fetch(day)
    ]


def digest_text(day: date, heads: list[Head]) -> str:
    lines = [
        DIGEST_HEADER,
        f"# day {day.isoformat()} (Asia/Shanghai); one line per venue: day venue seq sha256 key-id ed25519",
        *(h.line() for h in heads),
    ]
    return "\n".join(lines) + "\n"


def digest_dir() -> Path:
    return Path(os.environ.get("KEPU_LEDGER_DIR", "data/ledger"))


async def publish_digest(day: date) -> Path:
    """Publish the day's heads and write them to the digest file the association collects."""
    heads = await publish(day)
    path = digest_dir() / f"heads-{day.isoformat()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(digest_text(day, heads), encoding="utf-8")
    return path


_ANY_HEAD_OF_DAY = Statement("SELECT 1 AS one FROM ledger_head WHERE day = $1 LIMIT 1")


async def publish_yesterday() -> int:
    """The worker's job: once a day, sign yesterday's heads, write the digest file and, with
    KEPU_AUDIT_MAIL set, mail it to the association. Safe to run twice at once (heads are unique per
    day and venue; the mail has a dedupe key). Returns how many heads it published."""
    day = clock.today() - timedelta(days=1)
    if await _ANY_HEAD_OF_DAY.fetchrow(day) is not None:
        return 0
    path = await publish_digest(day)
    heads = await heads_of(day)
    recipient = os.environ.get("KEPU_AUDIT_MAIL", "").strip()
    if recipient and heads:
        from messaging.outbox import Attachment, enqueue

        async with write_transaction():
            await enqueue(
                kind="ledger_heads",
                recipient=recipient,
                subject=f"kepu ledger heads {day.isoformat()}",
                body=(
                    f"The signed chain heads of {len(heads)} venues at the end of {day.isoformat()} "
                    "(Asia/Shanghai) are attached. Keep this file: `kepu audit verify --digest FILE` "
                    "proves that no check-in up to these heads was changed or removed since."
                ),
                attachment=Attachment(path.name, "text/plain; charset=utf-8", path.read_bytes()),
                dedupe_key=f"ledger-heads:{day.isoformat()}",
            )
    return len(heads)


def _register_job() -> None:
    """`kepu worker` runs publish_yesterday every pass (it imports this module)."""
    from messaging import worker

    if publish_yesterday not in worker.JOBS:
        worker.JOBS.append(publish_yesterday)


_register_job()


# ---------------------------------------------------------------------------------------- verify


@dataclass
class Problem:
    venue: int
    message: str


@dataclass
class Report:
    venues: int = 0
    entries: int = 0
    checkins: int = 0
    heads: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_VENUES = Statement(
    "SELECT venue FROM ledger_tip UNION SELECT DISTINCT venue FROM bookings_checkin WHERE venue IS NOT NULL"
)
_ENTRIES = Statement(
    "SELECT seq, kind, checkin, payload, prev_hash, hash FROM ledger_entry WHERE venue = $1 ORDER BY seq"
)
_TIP = Statement("SELECT seq, hash FROM ledger_tip WHERE venue = $1")
_CHECKINS = Statement(
    "SELECT id, booking, venue, result, students, chaperones, staff, device, offline, nonce, scanned_at,"
    " needs_review, created_at, method, reversed_at, reversed_by, reversal_reason"
    " FROM bookings_checkin WHERE venue = $1 ORDER BY id"
)
_STORED_HEADS = Statement(
    "SELECT day, venue, seq, hash, key_id, signature FROM ledger_head WHERE venue = $1 ORDER BY day"
)


def _check_signature(head: Head, public: dict[int, bytes]) -> bool:
    raw = public.get(head.key_id)
    if raw is None:
        return False
    try:
        message = head_message(head.day, head.venue, head.seq, head.hash)
        nacl.signing.VerifyKey(raw).verify(message, head.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True


async def verify(published: list[Head] | None = None) -> Report:
    """Recompute every venue's chain; compare it with the check-ins, the tip, and the signed heads (those
    stored here, and `published` ones from digest files). Names the first problem of each venue."""
    report = Report()
    public = await keys.public_keys()
    outside = published or []
    venues = sorted({int(r["venue"]) for r in await _VENUES.fetch()} | {h.venue for h in outside})
    for venue in venues:
        report.venues += 1
        problem = await _verify_venue(venue, public, [h for h in outside if h.venue == venue], report)
        if problem is not None:
            report.problems.append(Problem(venue, problem))
    return report


async def _verify_venue(
    venue: int, public: dict[int, bytes], outside: list[Head], report: Report
) -> str | None:
    entries = await _ENTRIES.fetch(venue)
    report.entries += len(entries)
    hashes: dict[int, str] = {}
    scans: dict[int, str] = {}
    reversals: dict[int, str] = {}
    prev = GENESIS
    for expected, entry in enumerate(entries, start=1):
        seq = int(entry["seq"])
        if seq != expected:
            return f"record {expected} of the chain was removed (the next one is {seq})"
        if entry["prev_hash"] != prev:
            return f"record {seq} does not follow record {seq - 1}: one of them was changed"
        if entry_hash(entry["prev_hash"], entry["payload"]) != entry["hash"]:
            return f"record {seq} (check-in #{entry['checkin']}) was changed"
        prev = hashes[seq] = entry["hash"]
        (scans if entry["kind"] == "scan" else reversals)[int(entry["checkin"])] = entry["payload"]

    tip = await _TIP.fetchrow(venue)
    last = len(entries)
    if tip is not None and (int(tip["seq"]) != last or (last and tip["hash"] != hashes[last])):
        return (
            f"the chain ends at record {last} but its tip says {tip['seq']}: records at the end were removed"
        )

    stored = [
        Head(r["day"], r["venue"], r["seq"], r["hash"], r["key_id"], bytes(r["signature"]))
        for r in await _STORED_HEADS.fetch(venue)
    ]
    for head in [*stored, *outside]:
        report.heads += 1
        if not _check_signature(head, public):
            return f"the head published for {head.day.isoformat()} has no valid signature"
        if hashes.get(head.seq) != head.hash:
            if head.seq > last:
                return (
                    f"the head published for {head.day.isoformat()} names record {head.seq}, "
                    f"but the chain ends at {last}: records were removed"
                )
            return (
                f"record {head.seq} no longer matches the head published for {head.day.isoformat()}: "
                "a record up to it was changed or removed"
            )

    for row in await _CHECKINS.fetch(venue):
        report.checkins += 1
        checkin_id = int(row["id"])
        payload = scans.pop(checkin_id, None)
        if payload is None:
            return f"check-in #{checkin_id} is not in the ledger: it was added outside kepu"
        if payload != canonical(scan_record(row)):
            return f"check-in #{checkin_id} was changed after it was recorded"
        correction = reversals.pop(checkin_id, None)
        if row["reversed_at"] is not None:
            expected_reversal = canonical(
                reversal_record(
                    checkin_id,
                    row["reversed_by"],
                    row["reversed_at"],
                    row["reversal_reason"],
                    row["students"],
                    row["chaperones"],
                )
            )
            if correction != expected_reversal:
                return f"the reversal of check-in #{checkin_id} is not the one recorded"
        elif correction is not None:
            return f"check-in #{checkin_id} was reversed, but the reversal was removed from it"
    if scans:
        return f"check-in #{min(scans)} was removed"
    return None


def describe(report: Report) -> list[str]:
    lines = [
        f"{report.venues} venues, {report.entries} records, {report.checkins} check-ins, "
        f"{report.heads} signed heads checked."
    ]
    lines += [f"venue {p.venue}: {p.message}" for p in report.problems]
    return lines
