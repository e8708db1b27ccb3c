"""Booking rules: booking a slot without overselling it, reading and cancelling bookings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, ClassVar, NoReturn

import msgspec

import auditlog
from accounts.schemas import UserView
from bookings import keys, sanctions, waitlist
from bookings.rules import (
    Breach,
    Rules,
    check_booking,
    check_change,
    check_daily_cap,
    effective_rules,
    final_count_deadline,
    free_cancel_deadline,
)
from bookings.schemas import BookingForm, BookingView, HeadcountForm
from bookings.tables import Booking, Strike
from bookings.tickets import PassClaims, SigningKey, issue_pass, new_pass_code
from core import clock
from core.db import is_sqlite, valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_, gettext
from core.sql import Statement
from messaging import notify
from venues import programmes
from venues import services as venues
from venues.tables import Slot, Venue

# Statuses whose places are held on the slot (a request holds them so approving cannot oversell).
HOLDS_PLACES = ("confirmed", "requested")


class BookingError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "slot_full": (
            409,
            N_(
                "This slot has {remaining} places left and your group needs {needed}. "
                "Book for fewer people or choose another slot.{alternative}"
            ),
        ),
        "slot_started": (409, N_("This slot has already started; bookings close when a slot begins.")),
        "slot_cancelled": (409, N_("The venue cancelled this slot ({reason}); please choose another slot.")),
        "nobody": (422, N_("A booking needs at least one person: enter the number of students or adults.")),
        "already_cancelled": (409, N_("This booking is already cancelled.")),
        "already_declined": (409, N_("The venue declined this booking; there is nothing to cancel.")),
        "already_admitted": (
            409,
            N_("This class has already been checked in, so the booking can no longer be cancelled."),
        ),
        "changed": (409, N_("This booking was changed at the same moment; reload it and try again.")),
        "not_active": (409, N_("Only a confirmed booking or one awaiting approval can be changed.")),
        "admitted_no_change": (
            409,
            N_("This class has already been checked in, so its numbers can no longer be changed."),
        ),
        "after_final_count": (
            409,
            N_(
                "The final count was due on {deadline}; since then the numbers can only go up "
                "(now {students} students and {chaperones} adults)."
            ),
        ),
        "change_full": (
            409,
            N_("This slot has {remaining} places left and your change needs {needed} more; ask for fewer."),
        ),
        "not_requested": (409, N_("This booking is not waiting for approval (it was decided or cancelled).")),
        # The venue's rules (bookings/rules.py); each says which rule and what would work instead.
        "lead_too_short": (
            409,
            N_(
                "This venue must be booked at least {days} days ahead; "
                "the earliest slots you can book are on {earliest}.{alternative}"
            ),
        ),
        "lead_too_long": (
            409,
            N_("This venue takes bookings at most {days} days ahead; this slot can be booked from {opens}."),
        ),
        "blackout": (
            409,
            N_("The venue takes no group bookings on {day} ({reason}).{alternative}"),
        ),
        "group_too_small": (
            409,
            N_("This venue takes groups of at least {min} people (students and adults); yours has {people}."),
        ),
        "group_too_large": (
            409,
            N_(
                "This venue takes groups of at most {max} people (students and adults); yours has {people}. "
                "Book for fewer people, or split the class into two bookings."
            ),
        ),
        "too_few_adults": (
            409,
            N_(
                "One accompanying adult is needed for every {ratio} students: {students} students need "
                "{needed} adults. Please add {missing} more adults."
            ),
        ),
        "daily_cap": (
            409,
            N_(
                "The venue receives at most {cap} group visitors a day and only {left} places are left "
                "on {day}.{alternative}"
            ),
        ),
    }


def _alternative_sentence(when: datetime | None, remaining: int = 0) -> str:
    if when is None:
        return gettext(" No other slot in the next two weeks has room for your group; try later dates.")
    return gettext(" Another slot with room: {when} ({remaining} places left).").format(
        when=when.strftime("%Y-%m-%d %H:%M"), remaining=remaining
    )


# Joins two deep (booking → slot → programme/room), which mypy sees as a bare Column.
_SLOT_PROGRAMME: Any = Booking.slot.programme
_SLOT_ROOM: Any = Booking.slot.room

BOOKING_COLUMNS: tuple[Any, ...] = (
    Booking.id,
    Booking.slot.as_alias("slot_id"),
    Booking.venue.as_alias("venue_id"),
    Booking.venue.name.as_alias("venue_name"),
    Booking.venue.address.as_alias("venue_address"),
    Booking.school.as_alias("school_id"),
    Booking.school.name.as_alias("school_name"),
    Booking.teacher.as_alias("teacher_id"),
    Booking.teacher.display_name.as_alias("teacher_name"),
    Booking.status,
    Booking.students,
    Booking.chaperones,
    Booking.grade,
    Booking.class_name,
    Booking.grade_band,
    Booking.decline_reason,
    Booking.lead_teacher_name,
    Booking.lead_teacher_phone,
    Booking.buses,
    Booking.arrival_time,
    Booking.lunch_space,
    Booking.accessibility,
    Booking.special_requests,
    Booking.code,
    Booking.qr_token,
    Booking.slot.starts_at.as_alias("starts_at"),
    Booking.slot.ends_at.as_alias("ends_at"),
    Booking.slot.title.as_alias("slot_title"),
    Booking.admitted_students,
    Booking.admitted_chaperones,
    Booking.created_at,
    Booking.cancelled_at,
    Booking.venue.final_count_days.as_alias("final_count_days"),
    Booking.venue.free_cancel_days.as_alias("free_cancel_days"),
    Booking.slot.programme.as_alias("programme_id"),
    _SLOT_PROGRAMME.title.as_alias("programme_title"),
    _SLOT_ROOM.name.as_alias("room_name"),
    _SLOT_PROGRAMME.final_count_days.as_alias("programme_final_count_days"),
    _SLOT_PROGRAMME.free_cancel_days.as_alias("programme_free_cancel_days"),
)


def booking_view(row: dict[str, Any]) -> BookingView:
    data = dict(row)
    data["lunch_space"] = bool(data["lunch_space"])  # a raw statement on SQLite gives 0/1
    for field in ("starts_at", "ends_at", "created_at", "cancelled_at"):
        if data[field] is not None:
            data[field] = clock.local(data[field])
    deadlines = ("final_count_days", "free_cancel_days")
    rules = effective_rules(
        {f: data.pop(f) for f in deadlines}, {f: data.pop(f"programme_{f}") for f in deadlines}
    )
    day = data["starts_at"].date()
    return BookingView(
        **data,
        final_count_until=final_count_deadline(rules, day),
        free_cancel_until=free_cancel_deadline(rules, day),
    )


def visible_to(actor: UserView) -> Any:
    """The where-clause of bookings an actor may see; None means all of them."""
    if actor.is_auditor:
        return None
    if actor.is_staff:
        return Booking.venue == (actor.venue_id or -1)
    return Booking.teacher == actor.id


# BOOKING_COLUMNS for one booking, written once as SQL: the pass page, the API and every change read a
# booking this way, and building the joined Piccolo query cost more than running it.
_BOOKING_SELECT = (
    "b.id, b.slot AS slot_id, b.venue AS venue_id, v.name AS venue_name,"
    " v.address AS venue_address, b.school AS school_id, sc.name AS school_name, b.teacher AS teacher_id,"
    " u.display_name AS teacher_name, b.status, b.students, b.chaperones, b.grade, b.class_name,"
    " b.grade_band, b.decline_reason, b.lead_teacher_name, b.lead_teacher_phone, b.buses,"
    " b.arrival_time, b.lunch_space, b.accessibility, b.special_requests, b.code, b.qr_token,"
    " sl.starts_at, sl.ends_at, sl.title AS slot_title, b.admitted_students, b.admitted_chaperones,"
    " b.created_at, b.cancelled_at, v.final_count_days, v.free_cancel_days,"
    " sl.programme AS programme_id, p.title AS programme_title, r.name AS room_name,"
    " p.final_count_days AS programme_final_count_days, p.free_cancel_days AS programme_free_cancel_days"
)
# The joins from a booking `b`: written for a table, or for a CTE of that name (a new booking).
_BOOKING_JOINS = (
    "b JOIN venues_venue v ON v.id = b.venue"
    " JOIN accounts_school sc ON sc.id = b.school JOIN accounts_user u ON u.id = b.teacher"
    " JOIN venues_slot sl ON sl.id = b.slot LEFT JOIN venues_programme p ON p.id = sl.programme"
    " LEFT JOIN venues_room r ON r.id = sl.room"
)
_BOOKING_SQL = f"SELECT {_BOOKING_SELECT} FROM bookings_booking {_BOOKING_JOINS}"
# The names _BOOKING_SELECT gives its columns, which booking_view() takes.
_VIEW_KEYS = tuple(column.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for column in _BOOKING_SELECT.split(","))
_BOOKING_BY_ID = Statement(_BOOKING_SQL + " WHERE b.id = $1")
_BOOKINGS_OF_SLOT = Statement(_BOOKING_SQL + " WHERE b.slot = $1 ORDER BY b.id")


def may_see(actor: UserView, row: dict[str, Any]) -> bool:
    """visible_to() for one booking row already read."""
    if actor.is_auditor:
        return True
    if actor.is_staff:
        return row["venue_id"] == (actor.venue_id or -1)
    return bool(row["teacher_id"] == actor.id)


async def get_booking(actor: UserView, booking_id: int) -> BookingView:
    """A booking the actor may see; any other is reported as missing (never 403: no existence leak)."""
    if not valid_id(booking_id):
        raise NotFound("booking")
    row = await _BOOKING_BY_ID.fetchrow(booking_id)
    if row is None or not may_see(actor, row):
        raise NotFound("booking")
    return booking_view(row)


async def list_bookings(
    actor: UserView, *, slot_id: int | None = None, upcoming_only: bool = False, limit: int | None = None
) -> list[BookingView]:
    if slot_id is not None and not upcoming_only and limit is None:
        # A slot's bookings (its roster): one prepared statement; the rows the actor may not see are
        # dropped as visible_to() would.
        if not valid_id(slot_id):
            return []
        rows = [r for r in await _BOOKINGS_OF_SLOT.fetch(slot_id) if may_see(actor, r)]
        return [booking_view(r) for r in rows]
    query = Booking.select(*BOOKING_COLUMNS).order_by(Booking.slot.starts_at).order_by(Booking.id)
    scope = visible_to(actor)
    if scope is not None:
        query = query.where(scope)
    if slot_id is not None:
        query = query.where(Booking.slot == slot_id)
    if upcoming_only:
        query = query.where(Booking.slot.ends_at > clock.now())
    if limit is not None:
        query = query.limit(limit)
    return [booking_view(r) for r in await query]


async def slot_rules(venue_id: int, programme_id: int | None) -> Rules:
    """A slot's rules: its venue's, with its programme's own in their place (bookings/rules.py)."""
    return effective_rules(await venues.get_venue(venue_id), await programmes.rule_overrides(programme_id))


_RULE_COLUMNS = (
    ", ".join(f"v.{f}" for f in Rules.__struct_fields__)
    + ", "
    + ", ".join(f"p.{f} AS programme_{f}" for f in programmes.PROGRAMME_RULE_FIELDS)
)


def _bookable(local_day: str, extra: str = "") -> Statement:
    """What booking a slot needs to know, in one statement: the slot, its venue's rules and its
    programme's, a blackout of the venue on the slot's local day, and the booking school's strikes
    within the window and the newest ($1, $3: the school; $2, $4: the oldest strike that counts;
    $5: the slot)."""
    return Statement(
        "SELECT sl.id, sl.venue, sl.starts_at, sl.programme, sl.cancelled_at, sl.cancel_reason, sl.capacity,"
        " sl.booked, "
        + _RULE_COLUMNS
        + ", (SELECT bo.reason FROM venues_blackout bo WHERE bo.venue = sl.venue AND bo.day = "
        + local_day
        + ") AS blackout_reason,"
        " (SELECT COUNT(*) FROM bookings_strike st WHERE st.school = $1 AND st.created_at >= $2) AS strikes,"
        " (SELECT MAX(st.created_at) FROM bookings_strike st WHERE st.school = $3 AND st.created_at >= $4)"
        " AS last_strike" + extra + " FROM venues_slot sl JOIN venues_venue v ON v.id = sl.venue"
        " LEFT JOIN venues_programme p ON p.id = sl.programme WHERE sl.id = $5"
    )


# The slot's local day as the blackout table keeps days: a date (PostgreSQL), ISO text (SQLite).
_LOCAL_DAY_PG = "CAST((sl.starts_at AT TIME ZONE 'Asia/Shanghai') AS date)"
_LOCAL_DAY_SQLITE = "date(sl.starts_at, '+8 hours')"
# PostgreSQL also draws the id a new booking would get, so that its signed pass is made before anything
# is written and the places, the booking and the read of it are one statement (_book_pg); an attempt
# refused leaves a gap in the ids, as a rolled-back insert would.
_BOOKABLE_PG = _bookable(
    _LOCAL_DAY_PG, ", nextval(pg_get_serial_sequence('bookings_booking', 'id')) AS booking_id"
)
_BOOKABLE_SQLITE = _bookable(_LOCAL_DAY_SQLITE)
_TAKE_PLACES = Statement(
    "UPDATE venues_slot SET booked = booked + $1"
    " WHERE id = $2 AND booked <= capacity - $3 AND cancelled_at IS NULL RETURNING booked"
)
_BOOKING_FIELDS = (
    "slot", "venue", "school", "teacher", "status", "students", "chaperones", "grade", "class_name",
    "grade_band", "lead_teacher_name", "lead_teacher_phone", "buses", "arrival_time", "lunch_space",
    "accessibility", "special_requests", "code", "qr_token", "admitted_students", "admitted_chaperones",
    "created_at", "updated_at", "decline_reason",
)  # fmt: skip
# A pass code is random; should one be taken already, the unique index turns the insert into nothing
# and another code is drawn (no read beforehand).
_INSERT_BOOKING = Statement(
    f"INSERT INTO bookings_booking ({', '.join(_BOOKING_FIELDS)}) VALUES "
    f"({', '.join(f'${n}' for n in range(1, len(_BOOKING_FIELDS) + 1))})"
    " ON CONFLICT (code) DO NOTHING RETURNING id"
)
_INSERT_BOOKING_WITH_ID = Statement(
    f"INSERT INTO bookings_booking (id, {', '.join(_BOOKING_FIELDS)}) VALUES "
    f"({', '.join(f'${n}' for n in range(1, len(_BOOKING_FIELDS) + 2))})"
    " ON CONFLICT (code) DO NOTHING RETURNING id"
)
_SET_TOKEN = Statement("UPDATE bookings_booking SET qr_token = $1 WHERE id = $2")
# What a new booking starts with unless told otherwise (logistics empty, nobody admitted yet).
_NEW_BOOKING: dict[str, Any] = {
    "grade_band": None,
    "lead_teacher_name": "",
    "lead_teacher_phone": "",
    "buses": None,
    "arrival_time": "",
    "lunch_space": False,
    "accessibility": "",
    "special_requests": "",
    "qr_token": "",
    "admitted_students": 0,
    "admitted_chaperones": 0,
    "decline_reason": "",
}


def _new_row(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**_NEW_BOOKING, **values, "created_at": now, "updated_at": now, "code": new_pass_code()}


async def insert_booking(
    values: dict[str, Any], *, key: SigningKey, day: date, now: datetime, booking_id: int | None = None
) -> int:
    """Write a new booking with a fresh pass code and its signed pass, inside the caller's write
    transaction; its id (`booking_id` when the caller drew one). Booking a slot and accepting a
    waiting-list offer both come here."""
    row = _new_row(values, now)
    if booking_id is not None:
        row["qr_token"] = issue_pass(PassClaims(booking_id=booking_id, venue_id=row["venue"], day=day), key)
        while await _INSERT_BOOKING_WITH_ID.fetchrow(booking_id, *(row[f] for f in _BOOKING_FIELDS)) is None:
            row["code"] = new_pass_code()
        return booking_id
    while (inserted := await _INSERT_BOOKING.fetchrow(*(row[f] for f in _BOOKING_FIELDS))) is None:
        row["code"] = new_pass_code()
    booking_id = int(inserted["id"])
    token = issue_pass(PassClaims(booking_id=booking_id, venue_id=row["venue"], day=day), key)
    await _SET_TOKEN.execute(token, booking_id)
    return booking_id


@cache
def _new_booking_read() -> Statement:
    """A booking as get_booking() reads it, with what its e-mail needs (messaging.notify)."""
    return Statement(
        f"SELECT {_BOOKING_SELECT}, {notify.visit_columns()} FROM bookings_booking {_BOOKING_JOINS}"
        " WHERE b.id = $1"
    )


@cache
def _book_pg() -> Statement:
    """PostgreSQL: take the places ($1 people, slot $2, $3 people again), write the booking with the id
    drawn beforehand ($4) and the rest of its fields, and read it back as _new_booking_read() does, in
    one statement. `taken` says whether the places were there; the booking is missing (a NULL id) when
    they were not, or when its random pass code was taken already."""
    fields = ", ".join(_BOOKING_FIELDS)
    values = ", ".join(f"${n}" for n in range(5, 5 + len(_BOOKING_FIELDS)))
    return Statement(
        "WITH taken AS (UPDATE venues_slot SET booked = booked + $1"
        " WHERE id = $2 AND booked <= capacity - $3 AND cancelled_at IS NULL RETURNING id),"
        f" b AS (INSERT INTO bookings_booking (id, {fields}) SELECT $4, {values} FROM taken"
        " ON CONFLICT (code) DO NOTHING RETURNING *)"
        f" SELECT (SELECT COUNT(*) FROM taken) AS taken, {_BOOKING_SELECT}, {notify.visit_columns()}"
        f" FROM (SELECT 1) AS one LEFT JOIN ({_BOOKING_JOINS}) ON true"
    )


async def _write_booking(
    values: dict[str, Any], *, people: int, key: SigningKey, day: date, now: datetime, booking_id: int | None
) -> dict[str, Any] | None:
    """Inside the caller's write transaction: take the places of `values["slot"]` and write the
    booking; the new booking read back with its e-mail's columns, or None when the places were gone.
    `booking_id`: the id drawn for it (PostgreSQL), which makes this one statement there."""
    slot_id = values["slot"]
    if booking_id is None:
        if not await _TAKE_PLACES.fetch(people, slot_id, people):
            return None
        booking_id = await insert_booking(values, key=key, day=day, now=now)
        return await _new_booking_read().fetchrow(booking_id)
    row = _new_row(values, now)
    row["qr_token"] = issue_pass(PassClaims(booking_id=booking_id, venue_id=row["venue"], day=day), key)
    written = await _book_pg().fetchrow(
        people, slot_id, people, booking_id, *(row[f] for f in _BOOKING_FIELDS)
    )
    assert written is not None
    if not written["taken"]:
        return None
    if written["id"] is None:  # the places are held, the pass code was not free: write it with another
        await insert_booking(values, key=key, day=day, now=now, booking_id=booking_id)
        return await _new_booking_read().fetchrow(booking_id)
    return written


def _split_rules(row: dict[str, Any]) -> Rules:
    programme = (
        {f: row[f"programme_{f}"] for f in programmes.PROGRAMME_RULE_FIELDS}
        if row["programme"] is not None
        else None
    )
    return effective_rules(row, programme)


def _alternatives(local_day: str) -> Statement:
    """Slots a group could book instead, first 50 by start: at venue $1, starting in ($2, $3), with room
    for $4 people, not slot $5, not cancelled, and not on a day the venue is closed to groups."""
    return Statement(
        "SELECT sl.starts_at, sl.capacity, sl.booked FROM venues_slot sl"
        " WHERE sl.venue = $1 AND sl.starts_at > $2 AND sl.starts_at < $3 AND sl.booked <= sl.capacity - $4"
        " AND sl.id <> $5 AND sl.cancelled_at IS NULL AND NOT EXISTS (SELECT 1 FROM venues_blackout bo"
        " WHERE bo.venue = sl.venue AND bo.day = " + local_day + ") ORDER BY sl.starts_at LIMIT 50"
    )


_ALTERNATIVES_PG = _alternatives(_LOCAL_DAY_PG)
_ALTERNATIVES_SQLITE = _alternatives(_LOCAL_DAY_SQLITE)


async def _alternative(venue_id: int, rules: Rules, day: date, people: int, exclude_slot: int) -> str:
    """A sentence naming the first slot from `day` on (two weeks) that this group could book, if any."""
    today = clock.today()
    first = max(day, today + timedelta(days=rules.min_lead_days or 0))
    last = day + timedelta(days=14)
    if rules.max_lead_days is not None:
        last = min(last, today + timedelta(days=rules.max_lead_days))
    lo, _ = clock.day_bounds(first)
    _, hi = clock.day_bounds(last)
    lo = max(lo, clock.now())
    statement = _ALTERNATIVES_SQLITE if is_sqlite() else _ALTERNATIVES_PG
    loads: dict[date, int] = {}
    for row in await statement.fetch(venue_id, lo, hi, people, exclude_slot):
        starts_at = clock.local(clock.stored(row["starts_at"]))
        if rules.daily_cap is not None:
            if starts_at.date() not in loads:
                loads[starts_at.date()] = await venues.day_load(venue_id, starts_at.date())
            if loads[starts_at.date()] + people > rules.daily_cap:
                continue
        return _alternative_sentence(starts_at, row["capacity"] - row["booked"])
    return _alternative_sentence(None)


async def _refuse(breach: Breach, venue_id: int, rules: Rules, day: date, people: int, slot_id: int) -> None:
    params = dict(breach.params)
    if breach.code in ("lead_too_short", "blackout", "daily_cap"):
        params["alternative"] = await _alternative(venue_id, rules, day, people, slot_id)
    raise BookingError(breach.code, **params)


_SLOT_PLACES = Statement(
    "SELECT capacity, booked, cancelled_at, cancel_reason FROM venues_slot WHERE id = $1"
)


def _full(slot: dict[str, Any], people: int, alternative: str) -> BookingError:
    return BookingError(
        "slot_full",
        remaining=max(0, int(slot["capacity"]) - int(slot["booked"])),
        needed=people,
        alternative=alternative,
    )


async def _refuse_full(venue_id: int, rules: Rules, day: date, people: int, slot_id: int) -> NoReturn:
    """The places were gone when the booking came to take them (or the slot was cancelled meanwhile):
    say so from a fresh read, after the write transaction has ended."""
    fresh = await _SLOT_PLACES.fetchrow(slot_id)
    if fresh is None:
        raise NotFound("slot")
    if fresh["cancelled_at"] is not None:
        raise BookingError("slot_cancelled", reason=fresh["cancel_reason"])
    raise _full(fresh, people, await _alternative(venue_id, rules, day, people, slot_id))


async def create_booking(actor: UserView, form: BookingForm) -> BookingView:
    """Book places for the teacher's school under the venue's rules (bookings/rules.py).

    One conditional UPDATE takes the capacity, so it cannot race; where the venue caps a day's
    visitors, the day's load is summed in the same write transaction after locking the venue row
    (PostgreSQL; SQLite's IMMEDIATE transaction already lets one writer in), so two bookings cannot
    both take the last places of a day either. A venue in request mode holds the places too, as
    "requested", so an approval can never oversell.
    """
    if not actor.is_teacher or actor.school_id is None:
        raise Forbidden("role")
    people = form.students + form.chaperones
    since = sanctions.strikes_since()
    bookable = _BOOKABLE_SQLITE if is_sqlite() else _BOOKABLE_PG
    slot = (
        await bookable.fetchrow(actor.school_id, since, actor.school_id, since, form.slot_id)
        if valid_id(form.slot_id)
        else None
    )
    if slot is None:
        await sanctions.ensure_may_book(actor.school_id)  # a restricted school hears that first
    else:
        sanctions.ensure_allowed(sanctions.standing(int(slot["strikes"]), slot["last_strike"]))
    if people < 1:
        raise BookingError("nobody")
    if slot is None:
        raise NotFound("slot")
    if slot["cancelled_at"] is not None:
        raise BookingError("slot_cancelled", reason=slot["cancel_reason"])
    venue_id = int(slot["venue"])
    day = clock.local(slot["starts_at"]).date()
    if slot["starts_at"] <= clock.now():
        raise BookingError("slot_started")
    rules = _split_rules(slot)
    breach = check_booking(
        rules,
        today=clock.today(),
        day=day,
        students=form.students,
        chaperones=form.chaperones,
        band=form.grade_band,
        blackout_reason=None if slot["blackout_reason"] is None else str(slot["blackout_reason"]),
    )
    if breach is not None:
        await _refuse(breach, venue_id, rules, day, people, form.slot_id)
    if int(slot["booked"]) > int(slot["capacity"]) - people:
        # Full when read: answered without taking the write lock (most attempts in a rush end here). A
        # place freed since then is as if this request had come a moment earlier.
        raise _full(slot, people, await _alternative(venue_id, rules, day, people, form.slot_id))
    key = await keys.ensure_key()
    now = clock.now()
    async with write_transaction():
        if slot["starts_at"] <= clock.now():
            raise BookingError("slot_started")
        if rules.daily_cap is not None:
            if not is_sqlite():
                await Venue.select(Venue.id).where(Venue.id == venue_id).lock_rows()
            cap = await Venue.select(Venue.daily_cap).where(Venue.id == venue_id).first()
            fresh_rules = msgspec.structs.replace(rules, daily_cap=cap["daily_cap"] if cap else None)
            load = await venues.day_load(venue_id, day)
            breach = check_daily_cap(fresh_rules, day=day, booked_that_day=load, people=people)
            if breach is not None:
                await _refuse(breach, venue_id, fresh_rules, day, people, form.slot_id)
        written = await _write_booking(
            {
                "slot": slot["id"],
                "venue": venue_id,
                "school": actor.school_id,
                "teacher": actor.id,
                "status": "requested" if rules.needs_approval else "confirmed",
                "students": form.students,
                "chaperones": form.chaperones,
                "grade": (form.grade or "").strip(),
                "class_name": (form.class_name or "").strip(),
                "grade_band": form.grade_band,
                "lead_teacher_name": (form.lead_teacher_name or "").strip(),
                "lead_teacher_phone": (form.lead_teacher_phone or "").strip(),
                "buses": form.buses,
                "arrival_time": form.arrival_time or "",
                "lunch_space": form.lunch_space,
                "accessibility": (form.accessibility or "").strip(),
                "special_requests": (form.special_requests or "").strip(),
            },
            people=people,
            key=key,
            day=day,
            now=now,
            booking_id=slot.get("booking_id"),
        )
        if written is not None:
            event = "pending" if rules.needs_approval else "confirmed"
            await notify.booking_event(event, int(written["id"]), visit=written)
    if written is None:
        await _refuse_full(venue_id, rules, day, people, form.slot_id)
    return booking_view({k: written[k] for k in _VIEW_KEYS})


async def cancel_booking(actor: UserView, booking_id: int) -> BookingView:
    """Cancel and return the places; the pass stops admitting at once (check-in reads the status)."""
    current = await get_booking(actor, booking_id)
    if current.status == "cancelled":
        raise BookingError("already_cancelled")
    if current.status == "declined":
        raise BookingError("already_declined")
    if current.admitted > 0:
        raise BookingError("already_admitted")
    now = clock.now()
    async with write_transaction():
        # Conditional on the state just read: a concurrent cancel or check-in makes this match nothing.
        changed = await (
            Booking.update(
                {
                    Booking.status: "cancelled",
                    Booking.cancelled_at: now,
                    Booking.cancelled_by: actor.id,
                    Booking.updated_at: now,
                }
            )
            .where(
                (Booking.id == booking_id)
                & (Booking.status == current.status)
                & (Booking.admitted_students == 0)
                & (Booking.admitted_chaperones == 0)
            )
            .returning(Booking.id)
        )
        if not changed:
            again = await get_booking(actor, booking_id)
            if again.status == "cancelled":
                raise BookingError("already_cancelled")
            if again.admitted > 0:
                raise BookingError("already_admitted")
            raise BookingError("changed")
        if current.status in HOLDS_PLACES:
            await Slot.update({Slot.booked: Slot.booked - current.people}).where(Slot.id == current.slot_id)
            await waitlist.places_freed(current.slot_id)
        if late_cancel_strikes(actor, current):
            await Strike.insert(
                Strike(school=current.school_id, booking=booking_id, kind="late_cancel", created_at=now)
            )
        await notify.booking_event("cancelled", booking_id)
    return await get_booking(actor, booking_id)


def late_cancel_strikes(actor: UserView, booking: BookingView) -> bool:
    """Whether this actor cancelling this booking now adds a strike: a teacher cancelling a confirmed
    visit after the venue's free-cancellation deadline (a venue cancelling, or a request being
    withdrawn before anyone relied on it, marks nobody)."""
    return (
        actor.is_teacher
        and booking.status == "confirmed"
        and booking.free_cancel_until is not None
        and clock.today() > booking.free_cancel_until
    )


class Standing(msgspec.Struct):
    """A school's record: its strikes, and its past visits, cancels and declined requests."""

    strikes: int = 0
    late_cancels: int = 0
    no_shows: int = 0
    visits: int = 0
    cancelled: int = 0
    declined: int = 0


async def school_standing(school_ids: list[int]) -> dict[int, Standing]:
    """Per school, in two aggregate queries whatever the number of schools."""
    out = {sid: Standing() for sid in school_ids}
    if not school_ids:
        return out
    marks = ", ".join("{}" for _ in school_ids)
    strikes = await Strike.raw(
        "SELECT school, SUM(CASE WHEN kind = 'late_cancel' THEN 1 ELSE 0 END) AS late_cancels,"
        f" COUNT(*) AS strikes FROM bookings_strike WHERE school IN ({marks}) GROUP BY school",
        *school_ids,
    )
    for r in strikes:
        s = out[r["school"]]
        s.strikes = int(r["strikes"])
        s.late_cancels = int(r["late_cancels"])
        s.no_shows = s.strikes - s.late_cancels
    visits = await Booking.raw(
        "SELECT b.school,"
        " SUM(CASE WHEN b.status = 'confirmed' AND sl.starts_at < {} THEN 1 ELSE 0 END) AS visits,"
        " SUM(CASE WHEN b.status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,"
        " SUM(CASE WHEN b.status = 'declined' THEN 1 ELSE 0 END) AS declined"
        " FROM bookings_booking b JOIN venues_slot sl ON sl.id = b.slot"
        f" WHERE b.school IN ({marks}) GROUP BY b.school",
        clock.now(),
        *school_ids,
    )
    for r in visits:
        s = out[r["school"]]
        s.visits, s.cancelled, s.declined = int(r["visits"]), int(r["cancelled"]), int(r["declined"])
    return out


def _require_venue_staff(actor: UserView, booking: BookingView) -> None:
    if not actor.is_staff or actor.venue_id != booking.venue_id:
        raise Forbidden("role")


async def approve_booking(actor: UserView, booking_id: int) -> BookingView:
    """Staff of the venue confirm a request; its places were held from the start, so this cannot oversell."""
    current = await get_booking(actor, booking_id)
    _require_venue_staff(actor, current)
    now = clock.now()
    async with write_transaction():
        changed = await (
            Booking.update(
                {
                    Booking.status: "confirmed",
                    Booking.decided_at: now,
                    Booking.decided_by: actor.id,
                    Booking.updated_at: now,
                }
            )
            .where((Booking.id == booking_id) & (Booking.status == "requested"))
            .returning(Booking.id)
        )
        if not changed:
            raise BookingError("not_requested")
        await auditlog.record(
            actor,
            "booking.approve",
            "booking",
            booking_id,
            before={"status": "requested"},
            after={"status": "confirmed"},
            venue_id=current.venue_id,
        )
        await notify.booking_event("approved", booking_id)
    return await get_booking(actor, booking_id)


async def decline_booking(actor: UserView, booking_id: int, reason: str) -> BookingView:
    """Staff of the venue decline a request with a reason the teacher sees; the held places return."""
    current = await get_booking(actor, booking_id)
    _require_venue_staff(actor, current)
    now = clock.now()
    async with write_transaction():
        changed = await (
            Booking.update(
                {
                    Booking.status: "declined",
                    Booking.decline_reason: reason.strip(),
                    Booking.decided_at: now,
                    Booking.decided_by: actor.id,
                    Booking.updated_at: now,
                }
            )
            .where((Booking.id == booking_id) & (Booking.status == "requested"))
            .returning(Booking.id)
        )
        if not changed:
            raise BookingError("not_requested")
        await Slot.update({Slot.booked: Slot.booked - current.people}).where(Slot.id == current.slot_id)
        await waitlist.places_freed(current.slot_id)
        await auditlog.record(
            actor,
            "booking.decline",
            "booking",
            booking_id,
            before={"status": "requested"},
            after={"status": "declined"},
            venue_id=current.venue_id,
            reason=reason.strip(),
        )
        await notify.booking_event("declined", booking_id)
    return await get_booking(actor, booking_id)


async def request_queue(actor: UserView) -> list[BookingView]:
    """The venue's requests waiting for a decision, soonest visit first."""
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    rows = (
        await Booking.select(*BOOKING_COLUMNS)
        .where((Booking.venue == actor.venue_id) & (Booking.status == "requested"))
        .where(Booking.slot.starts_at > clock.now())
        .order_by(Booking.slot.starts_at)
        .order_by(Booking.id)
    )
    return [booking_view(r) for r in rows]


async def change_headcount(actor: UserView, booking_id: int, change: HeadcountForm) -> BookingView:
    """The teacher (or staff of the venue) change the numbers of a booking that still holds places.

    Until the venue's final-count deadline any change within its group rules; after it only
    increases. The slot's places move with one conditional UPDATE and the booking's counts with a
    compare-and-set on the numbers just read, both in one write transaction, so two changes (or a
    change and a booking) cannot together overfill the slot or the venue's day.
    """
    current = await get_booking(actor, booking_id)
    if actor.is_auditor or (actor.is_teacher and current.teacher_id != actor.id):
        raise Forbidden("role")
    if current.status not in HOLDS_PLACES:
        raise BookingError("not_active")
    if current.admitted > 0:
        raise BookingError("admitted_no_change")
    if current.starts_at <= clock.now():
        raise BookingError("slot_started")
    students = current.students if change.students is None else change.students
    chaperones = current.chaperones if change.chaperones is None else change.chaperones
    if students + chaperones < 1:
        raise BookingError("nobody")
    delta = students + chaperones - current.people
    if students == current.students and chaperones == current.chaperones:
        return current
    rules = await slot_rules(current.venue_id, current.programme_id)
    day = current.starts_at.date()
    breach = check_change(
        rules,
        today=clock.today(),
        day=day,
        old_students=current.students,
        old_chaperones=current.chaperones,
        students=students,
        chaperones=chaperones,
        band=current.grade_band,
    )
    if breach is not None:
        raise BookingError(breach.code, **breach.params)
    async with write_transaction():
        if delta > 0 and rules.daily_cap is not None:
            if not is_sqlite():
                await Venue.select(Venue.id).where(Venue.id == current.venue_id).lock_rows()
            load = await venues.day_load(current.venue_id, day)
            breach = check_daily_cap(rules, day=day, booked_that_day=load, people=delta)
            if breach is not None:
                raise BookingError(breach.code, **breach.params, alternative="")
        moved = await (
            Slot.update({Slot.booked: Slot.booked + delta})
            .where((Slot.id == current.slot_id) & (Slot.booked <= Slot.capacity - delta))
            .returning(Slot.booked)
        )
        if not moved:
            fresh = await Slot.select(Slot.capacity, Slot.booked).where(Slot.id == current.slot_id).first()
            assert fresh is not None
            raise BookingError("change_full", remaining=fresh["capacity"] - fresh["booked"], needed=delta)
        changed = await (
            Booking.update(
                {Booking.students: students, Booking.chaperones: chaperones, Booking.updated_at: clock.now()}
            )
            .where(
                (Booking.id == booking_id)
                & (Booking.status == current.status)
                & (Booking.students == current.students)
                & (Booking.chaperones == current.chaperones)
                & (Booking.admitted_students == 0)
                & (Booking.admitted_chaperones == 0)
            )
            .returning(Booking.id)
        )
        if not changed:
            raise BookingError("changed")  # rolls the slot's places back with the transaction
        if delta < 0:
            await waitlist.places_freed(current.slot_id)
        await notify.booking_event("changed", booking_id)
    return await get_booking(actor, booking_id)
