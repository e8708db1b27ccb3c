"""Check-in at the door: the results of api.md in their order, admitting each person at most once.

A scan may carry a device-chosen nonce: the server applies each nonce once, so a retried request
or a replayed offline upload returns the first outcome and records nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from accounts.schemas import UserView
from bookings import keys
from bookings.rules import Rules, adults_needed, effective_rules, students_per_adult
from bookings.schemas import CheckInForm, CheckInOutcome
from bookings.tickets import normalize_code, pass_kid, verify_pass
from core import clock
from core.db import is_sqlite, write_transaction
from core.errors import Forbidden
from core.i18n import N_, gettext
from core.sql import Statement
from ledger import chain

# result -> (HTTP status, message id); the order of checks in `check_in` is the order of api.md.
RESULTS: dict[str, tuple[int, str]] = {
    "invalid": (400, N_("This is not a kepu pass or pass code. Check the code and try again.")),
    "wrong_venue": (409, N_("This pass is for another venue.")),
    "cancelled": (409, N_("This booking was cancelled; the pass no longer admits.")),
    "not_confirmed": (409, N_("This booking is not confirmed (awaiting approval or declined).")),
    "wrong_day": (409, N_("This pass is for {day}, not today.")),
    "outside_window": (409, N_("Arrival is open from {opens} to {closes}.")),
    "already_checked_in": (
        409,
        N_("Already checked in ({admitted} of {booked} people). To admit a later group, enter its counts."),
    ),
    "too_many": (
        422,
        N_("At most {students} students and {chaperones} adults remain to be admitted for this booking."),
    ),
    # Only at venues whose door policy is "refuse" (an extension of api.md's results).
    "too_few_adults": (
        422,
        N_(
            "Too few adults: the venue asks for one adult per {per} students. "
            "Let the adults in first, or admit fewer students."
        ),
    ),
    "admitted": (200, N_("Admitted: {students} students and {chaperones} adults.")),
}

_CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class ScanMeta:
    """How a scan reached the server: made offline, and when the device made it."""

    offline: bool = False
    scanned_at: datetime | None = None
    method: str = ""  # "qr" | "code", set once the token is read


def _outcome(result: str, booking_id: int | None = None, **params: Any) -> CheckInOutcome:
    status, message = RESULTS[result]
    return CheckInOutcome(
        result=result, status_code=status, detail=gettext(message).format(**params), booking_id=booking_id
    )


# The columns a scan writes: those its ledger record keeps, but the id the database gives it.
_CHECKIN_FIELDS = tuple(f for f in chain.SCAN_FIELDS if f != "id")
_CHECKIN_COLUMNS = ", ".join(_CHECKIN_FIELDS)
_INSERT_CHECKIN = Statement(
    f"INSERT INTO bookings_checkin ({_CHECKIN_COLUMNS}, reversal_reason) VALUES"
    f" ({', '.join(f'${n}' for n in range(1, len(_CHECKIN_FIELDS) + 1))}, '') RETURNING id"
)


def _scan(
    actor: UserView,
    result: str,
    *,
    booking_id: int | None,
    venue_id: int | None,
    form: CheckInForm,
    meta: ScanMeta,
    students: int = 0,
    chaperones: int = 0,
    now: datetime,
) -> dict[str, Any]:
    """The check-in row a scan writes (without its id)."""
    return {
        "booking": booking_id,
        "venue": venue_id,
        "result": result,
        "students": students,
        "chaperones": chaperones,
        "staff": actor.id,
        "device": form.device[:64],
        "offline": meta.offline,
        "nonce": form.nonce,
        "scanned_at": meta.scanned_at,
        # A device queues only the scans it admitted, so an offline scan the server refuses means
        # people went in uncounted: another offline door got there first (already_checked_in,
        # too_many), or the list the device held was stale (cancelled, outside the window...).
        # Nothing more is counted, and a supervisor should look.
        "needs_review": meta.offline and result != "admitted",
        "created_at": now,
        "method": meta.method,
    }


def _chained(record: dict[str, Any], checkin_id: int, venue_id: int, now: datetime) -> list[Any]:
    """PostgreSQL: the arguments of _chain_pg's statement part, which writes a scan with the id drawn
    for it and chains it (the tail of _RECORD_PG and _ADMIT_RECORD_PG)."""
    record["id"] = checkin_id
    payload = chain.canonical(chain.scan_record(record))
    return [venue_id, payload, now, checkin_id, *(record[f] for f in _CHECKIN_FIELDS)]


async def _record(actor: UserView, result: str, *, checkin_id: int | None = None, **scan: Any) -> None:
    """Write a scan (`scan`: _scan's keywords but the time) and chain it; on PostgreSQL with the id
    drawn for it (`checkin_id`), in one autocommit statement."""
    now = clock.now()
    record = _scan(actor, result, now=now, **scan)
    venue_id = record["venue"]
    assert venue_id is not None
    if checkin_id is not None:
        await _RECORD_PG.execute(*_chained(record, checkin_id, venue_id, now))
        return
    row = await _INSERT_CHECKIN.fetchrow(*(record[f] for f in _CHECKIN_FIELDS))
    assert row is not None
    record["id"] = row["id"]
    # Every scan, admitted or denied, goes into the venue's hash chain in the same transaction.
    await chain.append(venue_id, "scan", row["id"], chain.scan_record(record), now)


_BOOKING_BY_CODE = Statement("SELECT id FROM bookings_booking WHERE code = $1")


# PostgreSQL writes a scan in one autocommit statement, with no transaction held open across round
# trips: the venue's ledger tip is locked, moved and chained from inside the statement, the entry's
# hash computed by the database exactly as chain.entry_hash does (SHA-256 over the previous hash, a
# newline and the payload, in lower-case hex), so the tip is held only while the statement runs.
# The arguments are _chained's; parameters selected as a row carry no column types, hence the casts.
_CASTS = {
    "booking": "integer", "venue": "integer", "result": "varchar", "students": "integer",
    "chaperones": "integer", "staff": "integer", "device": "varchar", "offline": "boolean",
    "nonce": "varchar", "scanned_at": "timestamptz", "needs_review": "boolean", "created_at": "timestamptz",
    "method": "varchar",
}  # fmt: skip


def _chain_pg(first: int, gate: str) -> str:
    """The CTEs that write a scan and chain it, its arguments (_chained's) numbered from `first`;
    nothing is written unless the SQL condition `gate` holds."""
    n = first
    args = [f"${n}::integer AS tip_venue", f"${n + 1}::text AS payload", f"${n + 2}::timestamptz AS at"]
    args += [f"${n + 3}::integer AS id"]
    args += [f"${n + 4 + i}::{_CASTS[f]} AS {f}" for i, f in enumerate(_CHECKIN_FIELDS)]
    return (
        f"a AS (SELECT {', '.join(args)} WHERE {gate}),"
        # The tip is locked only once the gate has passed: an admission holds its booking's row first,
        # like every other writer that touches both (bookings.reversal), so two never wait on each other.
        " old AS (SELECT t.seq, t.hash FROM ledger_tip t JOIN a ON t.venue = a.tip_venue FOR UPDATE OF t),"
        " t AS (UPDATE ledger_tip SET seq = old.seq + 1,"
        " hash = encode(sha256(convert_to(old.hash || E'\\n' || a.payload, 'UTF8')), 'hex')"
        " FROM old, a WHERE ledger_tip.venue = a.tip_venue"
        " RETURNING ledger_tip.seq, ledger_tip.hash, old.hash AS prev_hash),"
        f" c AS (INSERT INTO bookings_checkin (id, {_CHECKIN_COLUMNS}, reversal_reason)"
        f" SELECT id, {_CHECKIN_COLUMNS}, '' FROM a),"
        " e AS (INSERT INTO ledger_entry (venue, seq, kind, checkin, payload, prev_hash, hash, created_at)"
        " SELECT a.tip_venue, t.seq, 'scan', a.id, a.payload, t.prev_hash, t.hash, a.at FROM a, t)"
    )


# A denied (or invalid) scan: always written.
_RECORD_PG = Statement("WITH " + _chain_pg(1, "TRUE") + " SELECT seq FROM t")
# An admission: the compare-and-set on the booking's counts (as _ADMIT) and, only when it matched, the
# scan and its chain entry; no row back means the counts had changed.
_A = 7  # the compare-and-set's arguments come first
_ADMIT_RECORD_PG = Statement(
    "WITH u AS (UPDATE bookings_booking SET admitted_students = admitted_students + $1,"
    " admitted_chaperones = admitted_chaperones + $2, first_admitted_at = $3, updated_at = $4"
    " WHERE id = $5 AND status = 'confirmed' AND admitted_students = $6 AND admitted_chaperones = $7"
    " RETURNING admitted_students, admitted_chaperones), "
    + _chain_pg(_A + 1, "EXISTS (SELECT 1 FROM u)")
    + " SELECT admitted_students, admitted_chaperones FROM u"
)


def _read_token(token: str, public: dict[int, bytes]) -> tuple[int | None, str | None, str]:
    """What a scanned QR text or typed code names: (booking id of a signed pass, normalised typed code,
    how it was read: "qr" for the signed pass, "code" for the short code, "" for neither)."""
    claims = verify_pass(token, public)
    if claims is not None:
        return claims.booking_id, None, "qr"
    code = normalize_code(token)
    return None, code, "code" if code is not None else ""


async def _find_booking(token: str) -> tuple[int | None, str]:
    """The booking a scanned QR text or typed code refers to (None when it is neither), and how it
    was read (see _read_token)."""
    booking_id, code, method = _read_token(token, await keys.public_keys(pass_kid(token)))
    if code is None:
        return booking_id, method
    row = await _BOOKING_BY_CODE.fetchrow(code)
    return (int(row["id"]) if row else None), method


def _window(row: dict[str, Any]) -> tuple[datetime, datetime] | None:
    before, after = row["arrival_before"], row["arrival_after"]
    if before is None and after is None:
        return None
    start, end = clock.day_bounds(clock.local(row["starts_at"]).date())
    opens = row["starts_at"] - timedelta(minutes=before) if before is not None else start
    closes = row["ends_at"] + timedelta(minutes=after) if after is not None else end
    return opens, closes


async def check_in(actor: UserView, form: CheckInForm, meta: ScanMeta | None = None) -> CheckInOutcome:
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    meta = meta or ScanMeta()
    try:
        if not is_sqlite():
            # Each of the door's statements commits on its own (see _door_pg); no transaction is held.
            return await _check_in(actor, form, meta)
        async with write_transaction():
            if form.nonce is not None and (seen := await replay(actor, form.nonce)) is not None:
                return seen
            return await _check_in(actor, form, meta)
    except Exception as exc:
        # The same nonce sent twice at once (PostgreSQL): the loser's insert breaks the unique index
        # and its statement (admission included) rolls back; it reports the winner's outcome.
        if form.nonce is None or not _is_unique_violation(exc):
            raise
        seen = await replay(actor, form.nonce)
        if seen is None:
            raise
        return seen


def _is_unique_violation(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    return bool(names & {"IntegrityError", "UniqueViolationError"})


_CHECKIN_BY_NONCE = Statement(
    "SELECT result, booking, venue, students, chaperones FROM bookings_checkin WHERE nonce = $1"
)


async def replay(actor: UserView, nonce: str) -> CheckInOutcome | None:
    """The outcome first given for this nonce, or None when the nonce is new. Records nothing."""
    seen = await _CHECKIN_BY_NONCE.fetchrow(nonce)
    if seen is None:
        return None
    if seen["venue"] != actor.venue_id:
        return _outcome("invalid")  # another venue's nonce: reveal nothing about it
    result = seen["result"]
    row = await _booking_row(seen["booking"]) if seen["booking"] is not None else None
    if row is None:
        return _outcome(result) if result in ("invalid", "wrong_venue") else _outcome("invalid")
    params: dict[str, Any] = {}
    if result == "wrong_day":
        params["day"] = clock.local(row["starts_at"]).date().isoformat()
    elif result == "outside_window":
        window = _window(row)
        opens, closes = (
            window if window is not None else clock.day_bounds(clock.local(row["starts_at"]).date())
        )
        params.update(
            opens=clock.local(opens).strftime("%H:%M"), closes=clock.local(closes).strftime("%H:%M")
        )
    elif result == "already_checked_in":
        params.update(
            admitted=row["admitted_students"] + row["admitted_chaperones"],
            booked=row["students"] + row["chaperones"],
        )
    elif result == "too_many":
        params.update(
            students=row["students"] - row["admitted_students"],
            chaperones=row["chaperones"] - row["admitted_chaperones"],
        )
    elif result == "too_few_adults":
        params["per"] = students_per_adult(_door_rules(row), row["grade_band"])
    elif result == "admitted":
        params.update(students=seen["students"], chaperones=seen["chaperones"])
    out = _outcome(result, int(row["id"]), **params)
    if result == "admitted":
        out.students, out.chaperones = seen["students"], seen["chaperones"]
    _describe(out, row)
    return out


# What the door needs of a booking, in one statement: its counts, the school, the slot's times, and
# the ratios of the venue and of the slot's programme (merged by rules.effective_rules).
_BOOKING_SELECT = """SELECT b.id, b.venue, b.status, b.students, b.chaperones, b.admitted_students,
       b.admitted_chaperones, b.first_admitted_at, b.class_name, b.grade, b.grade_band,
       sc.name AS school_name, sl.starts_at, sl.ends_at,
       v.arrival_before_start_minutes AS arrival_before, v.arrival_after_end_minutes AS arrival_after,
       v.door_ratio_policy, v.students_per_adult, v.preschool_students_per_adult,
       p.students_per_adult AS programme_students_per_adult,
       p.preschool_students_per_adult AS programme_preschool_students_per_adult
     FROM bookings_booking b
     JOIN accounts_school sc ON sc.id = b.school
     JOIN venues_slot sl ON sl.id = b.slot
     JOIN venues_venue v ON v.id = b.venue
     LEFT JOIN venues_programme p ON p.id = sl.programme"""
_BOOKING_ROW = Statement(_BOOKING_SELECT + " WHERE b.id = $1")
# PostgreSQL's door reads in one statement: the booking by its id (a signed pass) or its code (typed),
# an id drawn for the scan's record, whether the venue's chain has its tip row yet, and whether the
# scan's nonce was applied before. One statement per key: for "b.id = $3 OR b.code = $4", the generic
# plan PostgreSQL settles on after five runs expected two bookings and hash-joined them to whole-table
# scans of the schools, slots and venues, on every scan (twice the database's CPU on the small city,
# growing with it); by one key, every join stays an index lookup (bench/RESULTS.md, session 7).
_DOOR_PG_READ = (
    "SELECT nextval(pg_get_serial_sequence('bookings_checkin', 'id')) AS checkin_id,"
    " EXISTS (SELECT 1 FROM ledger_tip WHERE venue = $1) AS has_tip,"
    " EXISTS (SELECT 1 FROM bookings_checkin WHERE nonce = $2) AS nonce_seen, bk.*"
    " FROM (SELECT 1) AS one LEFT JOIN (" + _BOOKING_SELECT + " WHERE {key} = $3) bk ON TRUE"
)
_DOOR_PG_BY_ID = Statement(_DOOR_PG_READ.format(key="b.id"))
_DOOR_PG_BY_CODE = Statement(_DOOR_PG_READ.format(key="b.code"))


async def _booking_row(booking_id: int) -> dict[str, Any] | None:
    return await _BOOKING_ROW.fetchrow(booking_id)


_ADMIT = Statement(
    "UPDATE bookings_booking SET admitted_students = admitted_students + $1,"
    " admitted_chaperones = admitted_chaperones + $2, first_admitted_at = $3, updated_at = $4"
    " WHERE id = $5 AND status = 'confirmed' AND admitted_students = $6 AND admitted_chaperones = $7"
    " RETURNING admitted_students, admitted_chaperones"
)
_COUNTS = Statement(
    "SELECT status, admitted_students, admitted_chaperones FROM bookings_booking WHERE id = $1"
)


async def _door_pg(
    actor: UserView, form: CheckInForm
) -> tuple[dict[str, Any] | None, str, int, CheckInOutcome | None]:
    """PostgreSQL: the booking a token names (or None), how it was read, the id drawn for the scan's
    record, and the outcome given before when the scan's nonce was applied already (else None)."""
    assert actor.venue_id is not None
    booking_id, code, method = _read_token(form.token, await keys.public_keys(pass_kid(form.token)))
    if code is not None:
        row = await _DOOR_PG_BY_CODE.fetchrow(actor.venue_id, form.nonce, code)
    else:  # a signed pass, or neither (no booking has the id NULL)
        row = await _DOOR_PG_BY_ID.fetchrow(actor.venue_id, form.nonce, booking_id)
    assert row is not None
    if row.pop("nonce_seen"):
        assert form.nonce is not None
        return None, method, 0, await replay(actor, form.nonce)
    if not row.pop("has_tip"):
        await chain.ensure_tip(actor.venue_id)  # the venue's first scan
    checkin_id = int(row.pop("checkin_id"))
    return (row if row["id"] is not None else None), method, checkin_id, None


async def _check_in(actor: UserView, form: CheckInForm, meta: ScanMeta) -> CheckInOutcome:
    assert actor.venue_id is not None
    checkin_id: int | None = None  # PostgreSQL: the id drawn for the scan's record
    if is_sqlite():
        booking_id, method = await _find_booking(form.token)
        row = await _booking_row(booking_id) if booking_id is not None else None
    else:
        row, method, checkin_id, seen = await _door_pg(actor, form)
        if seen is not None:
            return seen
    meta = replace(meta, method=method)

    async def record(result: str, booking_id: int | None) -> None:
        await _record(
            actor,
            result,
            booking_id=booking_id,
            venue_id=actor.venue_id,
            form=form,
            meta=meta,
            checkin_id=checkin_id,
        )

    if row is None:
        await record("invalid", None)
        return _outcome("invalid")
    bid = int(row["id"])
    if row["venue"] != actor.venue_id:
        # Not the caller's venue: record the attempt against the caller's venue, reveal nothing.
        await record("wrong_venue", None)
        return _outcome("wrong_venue")

    async def deny(result: str, **params: Any) -> CheckInOutcome:
        await record(result, bid)
        out = _outcome(result, bid, **params)
        _describe(out, row)
        return out

    if row["status"] == "cancelled":
        return await deny("cancelled")
    if row["status"] != "confirmed":
        return await deny("not_confirmed")
    starts_local = clock.local(row["starts_at"])
    if starts_local.date() != clock.today():
        return await deny("wrong_day", day=starts_local.date().isoformat())
    window = _window(row)
    now = clock.now()
    if window is not None and not (window[0] <= now <= window[1]):
        return await deny(
            "outside_window",
            opens=clock.local(window[0]).strftime("%H:%M"),
            closes=clock.local(window[1]).strftime("%H:%M"),
        )

    for _ in range(_CAS_ATTEMPTS):
        seen_s, seen_c = row["admitted_students"], row["admitted_chaperones"]
        left_s, left_c = row["students"] - seen_s, row["chaperones"] - seen_c
        first = seen_s == 0 and seen_c == 0
        counts_given = form.students is not None or form.chaperones is not None
        if (not first and not counts_given) or (left_s == 0 and left_c == 0):
            return await deny(
                "already_checked_in", admitted=seen_s + seen_c, booked=row["students"] + row["chaperones"]
            )
        if first:
            students = form.students if form.students is not None else row["students"]
            chaperones = form.chaperones if form.chaperones is not None else row["chaperones"]
        else:
            students, chaperones = form.students or 0, form.chaperones or 0
        if students > left_s or chaperones > left_c or students + chaperones == 0:
            return await deny("too_many", students=left_s, chaperones=left_c)
        per = _refused_ratio(row, seen_s + students, seen_c + chaperones)
        if per is not None:
            return await deny("too_few_adults", per=per)
        # Compare-and-set on the counts just read: two doors scanning the same pass at once cannot
        # both add people; the loser re-reads and is told what is left.
        cas = (students, chaperones, row.get("first_admitted_at") or now, now, bid, seen_s, seen_c)
        admission: dict[str, Any] = {
            "booking_id": bid,
            "venue_id": actor.venue_id,
            "form": form,
            "meta": meta,
            "students": students,
            "chaperones": chaperones,
        }
        if checkin_id is not None:
            scan = _scan(actor, "admitted", now=now, **admission)
            updated = await _ADMIT_RECORD_PG.fetch(*cas, *_chained(scan, checkin_id, actor.venue_id, now))
        else:
            updated = await _ADMIT.fetch(*cas)
            if updated:
                await _record(actor, "admitted", **admission)
        if updated:
            out = _outcome("admitted", bid, students=students, chaperones=chaperones)
            out.students, out.chaperones = students, chaperones
            row["admitted_students"] = updated[0]["admitted_students"]
            row["admitted_chaperones"] = updated[0]["admitted_chaperones"]
            _describe(out, row)
            out.warning = _ratio_warning(row)
            return out
        fresh = await _COUNTS.fetchrow(bid)
        assert fresh is not None
        if fresh["status"] == "cancelled":
            return await deny("cancelled")
        row.update(fresh)
    return await deny(
        "already_checked_in",
        admitted=row["admitted_students"] + row["admitted_chaperones"],
        booked=row["students"] + row["chaperones"],
    )


def _door_rules(row: dict[str, Any]) -> Rules:
    ratios = ("students_per_adult", "preschool_students_per_adult")
    return effective_rules({f: row[f] for f in ratios}, {f: row.get(f"programme_{f}") for f in ratios})


def _refused_ratio(row: dict[str, Any], students_in: int, adults_in: int) -> int | None:
    """With the door policy "refuse": the students-per-adult ratio this admission would break (so it is
    turned away), or None when the adults in would be enough."""
    if row.get("door_ratio_policy") != "refuse":
        return None
    rules = _door_rules(row)
    if adults_in >= adults_needed(rules, students_in, row["grade_band"]):
        return None
    return students_per_adult(rules, row["grade_band"])


def _ratio_warning(row: dict[str, Any]) -> str | None:
    """With the venue's door policy "warn": a warning when the adults admitted so far (this admission
    included) are fewer than its ratio needs for the students admitted so far; else None."""
    if row.get("door_ratio_policy") != "warn":
        return None
    needed = adults_needed(_door_rules(row), row["admitted_students"], row["grade_band"])
    if row["admitted_chaperones"] >= needed:
        return None
    return gettext(
        "Too few adults: {students} students are in with {adults} adults; the venue asks for {needed}."
    ).format(students=row["admitted_students"], adults=row["admitted_chaperones"], needed=needed)


def _describe(out: CheckInOutcome, row: dict[str, Any]) -> None:
    out.admitted_students = row["admitted_students"]
    out.admitted_chaperones = row["admitted_chaperones"]
    out.booked_students = row["students"]
    out.booked_chaperones = row["chaperones"]
    out.school_name = row["school_name"]
    out.class_name = row["class_name"]
    out.grade = row["grade"]
