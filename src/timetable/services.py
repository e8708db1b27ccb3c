"""Timetable rules: recurring series of slots, cancelling slots (teachers told, with alternatives),
public holidays, opening hours with closures and youth days, and the door's walk-in tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

import auditlog
from accounts.schemas import UserView
from accounts.tables import User
from bookings import waitlist
from bookings.tables import Booking
from core import clock
from core.db import insert_chunked, is_sqlite, valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import DEFAULT_LANGUAGE, N_, gettext, language
from messaging import outbox
from timetable.recurrence import Occurrence, Rule, RuleError, check_rule, expand, instants
from timetable.tables import (
    YOUTH_KINDS,
    Closure,
    OpeningHours,
    PublicHoliday,
    SlotSeries,
    WalkIn,
    YouthDay,
)
from venues import services as venues
from venues.tables import SLOT_KINDS, Blackout, Programme, Room, Slot

# Booking statuses that hold places on a slot (bookings.services.HOLDS_PLACES).
HOLDS_PLACES = ("confirmed", "requested")
ALTERNATIVES = 3
WALKIN_STEP_MAX = 50
WALKIN_PAST_DAYS = 7


class TimetableError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "no_series": (404, N_("There is no such series.")),
        "no_dates": (
            422,
            N_(
                "This rule gives no day on which a slot can be made: every date is in the past, "
                "left out, a holiday or a closed day."
            ),
        ),
        "past_first_day": (422, N_("A series starts today or later.")),
        "capacity": (422, N_("Enter a capacity between 1 and 10000 places.")),
        "kind": (422, N_("Choose one of the options.")),
        "programme": (422, N_("Choose one of this venue's programmes.")),
        "room": (422, N_("Choose one of this venue's rooms.")),
        "series_cancelled": (409, N_("This series is cancelled; it can no longer be changed.")),
        "slot_cancelled": (409, N_("This slot is already cancelled.")),
        "slot_started": (
            409,
            N_("This slot has already started; only future slots can be changed or cancelled."),
        ),
        "capacity_below_booked": (
            409,
            N_("{booked} places are already booked; the capacity cannot go below that."),
        ),
        "reason": (422, N_("Give a reason: the teachers who booked will read it.")),
        "holiday_name": (422, N_("Give the holiday a name.")),
        "hours": (
            422,
            N_(
                "Enter opening and closing times as HH:MM with closing after opening, or tick closed ({day})."
            ),
        ),
        "youth_day": (422, N_("Choose a weekday or a date.")),
        "closure_past": (422, N_("A closure day must be today or later.")),
        "walkin_day": (422, N_("Walk-ins can be recorded for today and the past {days} days only.")),
        "walkin_step": (422, N_("A walk-in change is between -{max} and {max} people.")),
    }


# ---------------------------------------------------------------------------------------------------
# Calendar context: holidays, blackouts, closures


async def holidays_between(first: date, last: date) -> dict[date, str]:
    rows = await PublicHoliday.select(PublicHoliday.day, PublicHoliday.name).where(
        (PublicHoliday.day >= first) & (PublicHoliday.day <= last)
    )
    return {r["day"]: r["name"] for r in rows}


async def _blackouts_between(venue_id: int, first: date, last: date) -> dict[date, str]:
    rows = await Blackout.select(Blackout.day, Blackout.reason).where(
        (Blackout.venue == venue_id) & (Blackout.day >= first) & (Blackout.day <= last)
    )
    return {r["day"]: r["reason"] for r in rows}


async def _closures_between(venue_id: int, first: date, last: date) -> dict[date, str]:
    rows = await Closure.select(Closure.day, Closure.reason).where(
        (Closure.venue == venue_id) & (Closure.day >= first) & (Closure.day <= last)
    )
    return {r["day"]: r["reason"] for r in rows}


# ---------------------------------------------------------------------------------------------------
# Series


@dataclass
class SeriesDraft:
    """What staff ask for: a rule, a time of day, and what each slot is."""

    rule: str
    first_day: date
    start: time
    end: time
    capacity: int
    title: str = ""
    kind: str = "school_visit"
    exdates: list[date] = field(default_factory=list)
    skip_holidays: bool = True
    programme_id: int | None = None
    room_id: int | None = None


@dataclass
class Preview:
    rule: Rule
    occurrences: list[Occurrence]

    @property
    def made(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.made]

    @property
    def skipped(self) -> list[Occurrence]:
        return [o for o in self.occurrences if not o.made]

    @property
    def outside_hours(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.made and o.outside_hours]


async def _check_draft(venue_id: int, draft: SeriesDraft) -> None:
    if not 1 <= draft.capacity <= 10000:
        raise TimetableError("capacity")
    if draft.kind not in SLOT_KINDS:
        raise TimetableError("kind")
    if draft.end <= draft.start:
        raise RuleError("times")
    if draft.programme_id is not None and not (
        valid_id(draft.programme_id)
        and await Programme.exists().where(
            (Programme.id == draft.programme_id)
            & (Programme.venue == venue_id)
            & Programme.retired_at.is_null()
        )
    ):
        raise TimetableError("programme")
    if draft.room_id is not None and not (
        valid_id(draft.room_id)
        and await Room.exists().where(
            (Room.id == draft.room_id) & (Room.venue == venue_id) & Room.retired_at.is_null()
        )
    ):
        raise TimetableError("room")


async def preview_series(actor: UserView, venue_id: int, draft: SeriesDraft) -> Preview:
    """The dates a series would make and those it leaves out (with why), without writing anything."""
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    await _check_draft(venue_id, draft)
    if draft.first_day < clock.today():
        raise TimetableError("past_first_day")
    return await _preview(venue_id, draft)


async def _preview(venue_id: int, draft: SeriesDraft) -> Preview:
    rule = check_rule(draft.rule, draft.first_day, draft.start)
    raw = expand(rule)
    if not raw:
        raise TimetableError("no_dates")
    first, last = raw[0].day, raw[-1].day
    occurrences = expand(
        rule,
        exdates=draft.exdates,
        holidays=await holidays_between(first, last) if draft.skip_holidays else {},
        blackouts=await _blackouts_between(venue_id, first, last),
        closures=await _closures_between(venue_id, first, last),
    )
    now = clock.now()
    week = await _week(venue_id)
    marked = []
    for o in occurrences:
        starts, _ends = instants(o.day, draft.start, draft.end)
        if o.made and starts <= now:
            o = Occurrence(o.day, "past")
        if o.made:
            hours = week.get(o.day.weekday())
            outside = hours is not None and not hours.covers(draft.start, draft.end)
            o = Occurrence(o.day, outside_hours=outside)
        marked.append(o)
    preview = Preview(rule=rule, occurrences=marked)
    if not preview.made:
        raise TimetableError("no_dates")
    return preview


def _slot_rows(
    series_id: int, venue_id: int, draft: SeriesDraft, days: list[date], actor_id: int
) -> list[Slot]:
    now = clock.now()
    rows = []
    for day in days:
        starts, ends = instants(day, draft.start, draft.end)
        rows.append(
            Slot(
                venue=venue_id,
                starts_at=starts,
                ends_at=ends,
                capacity=draft.capacity,
                booked=0,
                title=draft.title.strip(),
                kind=draft.kind,
                programme=draft.programme_id,
                room=draft.room_id,
                series_id=series_id,
                created_by=actor_id,
                created_at=now,
            )
        )
    return rows


async def create_series(actor: UserView, venue_id: int, draft: SeriesDraft) -> tuple[int, Preview]:
    """Store the series and make all its slots in one write transaction (all or nothing)."""
    preview = await preview_series(actor, venue_id, draft)
    now = clock.now()
    async with write_transaction():
        rows = await SlotSeries.insert(
            SlotSeries(
                venue=venue_id,
                programme=draft.programme_id,
                room=draft.room_id,
                title=draft.title.strip(),
                kind=draft.kind,
                capacity=draft.capacity,
                start_time=draft.start.strftime("%H:%M"),
                end_time=draft.end.strftime("%H:%M"),
                first_day=draft.first_day,
                rrule=preview.rule.text,
                exdates=",".join(d.isoformat() for d in sorted(set(draft.exdates))),
                skip_holidays=draft.skip_holidays,
                created_by=actor.id,
                created_at=now,
                updated_at=now,
            )
        ).returning(SlotSeries.id)
        series_id = int(rows[0]["id"])
        await insert_chunked(
            Slot, _slot_rows(series_id, venue_id, draft, [o.day for o in preview.made], actor.id)
        )
        after = {**_series_fields(draft, preview.rule.text), "slots_made": len(preview.made)}
        await auditlog.record(actor, "series.create", "series", series_id, after=after, venue_id=venue_id)
    return series_id, preview


def _series_fields(draft: SeriesDraft, rule_text: str) -> dict[str, Any]:
    """What the audit log keeps of a series."""
    return {
        "title": draft.title.strip(),
        "kind": draft.kind,
        "capacity": draft.capacity,
        "start": draft.start.strftime("%H:%M"),
        "end": draft.end.strftime("%H:%M"),
        "first_day": draft.first_day,
        "rule": rule_text,
        "exdates": sorted(set(draft.exdates)),
        "skip_holidays": draft.skip_holidays,
        "programme_id": draft.programme_id,
        "room_id": draft.room_id,
    }


SERIES_COLUMNS = (
    SlotSeries.id,
    SlotSeries.venue.as_alias("venue_id"),
    SlotSeries.programme.as_alias("programme_id"),
    SlotSeries.room.as_alias("room_id"),
    SlotSeries.title,
    SlotSeries.kind,
    SlotSeries.capacity,
    SlotSeries.start_time,
    SlotSeries.end_time,
    SlotSeries.first_day,
    SlotSeries.rrule,
    SlotSeries.exdates,
    SlotSeries.skip_holidays,
    SlotSeries.created_at,
    SlotSeries.cancelled_at,
    SlotSeries.cancel_reason,
)


@dataclass
class SeriesView:
    id: int
    venue_id: int
    programme_id: int | None
    room_id: int | None
    title: str
    kind: str
    capacity: int
    start_time: str
    end_time: str
    first_day: date
    rrule: str
    exdates: str
    skip_holidays: bool
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str
    slots: int = 0
    upcoming: int = 0
    booked: int = 0
    last_day: date | None = None

    def draft(self) -> SeriesDraft:
        return SeriesDraft(
            rule=self.rrule,
            first_day=self.first_day,
            start=time.fromisoformat(self.start_time),
            end=time.fromisoformat(self.end_time),
            capacity=self.capacity,
            title=self.title,
            kind=self.kind,
            exdates=[date.fromisoformat(d) for d in self.exdates.split(",") if d],
            skip_holidays=self.skip_holidays,
            programme_id=self.programme_id,
            room_id=self.room_id,
        )


async def _series_stats(series: list[SeriesView]) -> None:
    if not series:
        return
    ids = [s.id for s in series]
    rows = await Slot.select(Slot.series_id, Slot.starts_at, Slot.booked, Slot.cancelled_at).where(
        Slot.series_id.is_in(ids)
    )
    by_id = {s.id: s for s in series}
    now = clock.now()
    for r in rows:
        s = by_id[r["series_id"]]
        if r["cancelled_at"] is not None:
            continue
        s.slots += 1
        s.booked += r["booked"]
        if r["starts_at"] > now:
            s.upcoming += 1
        day = clock.local(r["starts_at"]).date()
        s.last_day = max(s.last_day or day, day)


async def list_series(actor: UserView, venue_id: int) -> list[SeriesView]:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    rows = (
        await SlotSeries.select(*SERIES_COLUMNS)
        .where(SlotSeries.venue == venue_id)
        .order_by(SlotSeries.id, ascending=False)
    )
    out = [SeriesView(**r) for r in rows]
    await _series_stats(out)
    return out


async def get_series(actor: UserView, series_id: int) -> SeriesView:
    if not valid_id(series_id):
        raise TimetableError("no_series")
    row = await SlotSeries.select(*SERIES_COLUMNS).where(SlotSeries.id == series_id).first()
    if row is None:
        raise TimetableError("no_series")
    venues.require_manager(actor, row["venue_id"])
    out = SeriesView(**row)
    await _series_stats([out])
    return out


@dataclass
class OccurrenceView:
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    bookings: int
    cancelled_at: datetime | None
    cancel_reason: str

    @property
    def started(self) -> bool:
        return self.starts_at <= clock.now()


async def series_slots(series_id: int) -> list[OccurrenceView]:
    rows = (
        await Slot.select(
            Slot.id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.capacity,
            Slot.booked,
            Slot.cancelled_at,
            Slot.cancel_reason,
        )
        .where(Slot.series_id == series_id)
        .order_by(Slot.starts_at)
    )
    counts = await _booking_counts([r["id"] for r in rows], active_only=True)
    return [
        OccurrenceView(
            id=r["id"],
            starts_at=clock.local(r["starts_at"]),
            ends_at=clock.local(r["ends_at"]),
            capacity=r["capacity"],
            booked=r["booked"],
            bookings=counts.get(r["id"], 0),
            cancelled_at=r["cancelled_at"],
            cancel_reason=r["cancel_reason"],
        )
        for r in rows
    ]


async def _booking_counts(slot_ids: list[int], *, active_only: bool) -> dict[int, int]:
    if not slot_ids:
        return {}
    query = Booking.select(Booking.slot).where(Booking.slot.is_in(slot_ids))
    if active_only:
        query = query.where(Booking.status.is_in(list(HOLDS_PLACES)))
    out: dict[int, int] = {}
    for r in await query:
        out[r["slot"]] = out.get(r["slot"], 0) + 1
    return out


@dataclass
class SeriesChange:
    made: int = 0
    removed: int = 0
    kept_with_bookings: int = 0
    kept_off_rule: int = 0
    cancelled: int = 0


async def update_series(actor: UserView, series_id: int, draft: SeriesDraft) -> SeriesChange:
    """Change the whole series from now on.

    Future occurrences nobody ever booked are removed and made again from the new rule. Those that
    hold bookings are kept with their bookings and their time (teachers planned for it): their title,
    kind and capacity follow the series, the capacity never below what is booked; one that the new
    rule no longer has stays too, for staff to cancel or keep one by one. A future occurrence with
    only cancelled or declined bookings is reused when the new rule still has its day, else cancelled.
    Past occurrences are history and stay as they were.
    """
    current = await get_series(actor, series_id)
    if current.cancelled_at is not None:
        raise TimetableError("series_cancelled")
    await _check_draft(current.venue_id, draft)
    # The series keeps its first day (its history starts there); the rule is read from it again.
    draft.first_day = current.first_day
    preview = await _preview(current.venue_id, draft)
    new_days = {o.day for o in preview.made}
    change = SeriesChange()
    now = clock.now()
    async with write_transaction():
        query = Slot.select(Slot.id, Slot.starts_at, Slot.booked).where(
            (Slot.series_id == series_id) & (Slot.starts_at > now) & Slot.cancelled_at.is_null()
        )
        if not is_sqlite():
            query = query.lock_rows()
        future = await query
        ids = [r["id"] for r in future]
        any_booking = set(await _booking_counts(ids, active_only=False))
        active = set(await _booking_counts(ids, active_only=True))
        free = [i for i in ids if i not in any_booking]
        if free:
            await Slot.delete().where(Slot.id.is_in(free))
            change.removed = len(free)
        covered: set[date] = set()
        for r in future:
            if r["id"] not in any_booking:
                continue
            day = clock.local(r["starts_at"]).date()
            common: dict[Any, Any] = {
                Slot.title: draft.title.strip(),
                Slot.kind: draft.kind,
                Slot.programme: draft.programme_id,
                Slot.room: draft.room_id,
                Slot.capacity: max(draft.capacity, r["booked"]),
            }
            if r["id"] in active:
                change.kept_with_bookings += 1
                if day not in new_days:
                    change.kept_off_rule += 1
                covered.add(day)
                await Slot.update(common).where(Slot.id == r["id"])
                await waitlist.places_freed(r["id"])  # the series' new capacity may have room now
            elif day in new_days:
                starts, ends = instants(day, draft.start, draft.end)
                await Slot.update({**common, Slot.starts_at: starts, Slot.ends_at: ends}).where(
                    Slot.id == r["id"]
                )
                covered.add(day)
            else:
                await Slot.update(
                    {Slot.cancelled_at: now, Slot.cancel_reason: gettext("The series was changed.")}
                ).where(Slot.id == r["id"])
                change.cancelled += 1
        days = sorted(d for d in new_days if d not in covered)
        await insert_chunked(Slot, _slot_rows(series_id, current.venue_id, draft, days, actor.id))
        change.made = len(days)
        await SlotSeries.update(
            {
                SlotSeries.title: draft.title.strip(),
                SlotSeries.kind: draft.kind,
                SlotSeries.capacity: draft.capacity,
                SlotSeries.programme: draft.programme_id,
                SlotSeries.room: draft.room_id,
                SlotSeries.start_time: draft.start.strftime("%H:%M"),
                SlotSeries.end_time: draft.end.strftime("%H:%M"),
                SlotSeries.rrule: preview.rule.text,
                SlotSeries.exdates: ",".join(d.isoformat() for d in sorted(set(draft.exdates))),
                SlotSeries.skip_holidays: draft.skip_holidays,
                SlotSeries.updated_at: now,
            }
        ).where(SlotSeries.id == series_id)
        await auditlog.record(
            actor,
            "series.update",
            "series",
            series_id,
            before=_series_fields(current.draft(), current.rrule),
            after=_series_fields(draft, preview.rule.text),
            venue_id=current.venue_id,
        )
    return change


async def cancel_series(actor: UserView, series_id: int, reason: str) -> CancelSummary:
    """Cancel the series and every future occurrence; teachers with bookings are told (as cancel_slot)."""
    current = await get_series(actor, series_id)
    if current.cancelled_at is not None:
        raise TimetableError("series_cancelled")
    reason = _reason(reason)
    total = CancelSummary()
    async with write_transaction():
        changed = await (
            SlotSeries.update({SlotSeries.cancelled_at: clock.now(), SlotSeries.cancel_reason: reason})
            .where((SlotSeries.id == series_id) & SlotSeries.cancelled_at.is_null())
            .returning(SlotSeries.id)
        )
        if not changed:
            raise TimetableError("series_cancelled")
        rows = await Slot.select(Slot.id).where(
            (Slot.series_id == series_id) & (Slot.starts_at > clock.now()) & Slot.cancelled_at.is_null()
        )
        for r in rows:
            one = await _cancel_slot(actor, r["id"], reason)
            total.slots += 1
            total.bookings += one.bookings
            total.places += one.places
            total.messages += one.messages
        await auditlog.record(
            actor,
            "series.cancel",
            "series",
            series_id,
            before={"cancelled": False},
            after={"cancelled": True, "slots_cancelled": total.slots, "bookings_cancelled": total.bookings},
            venue_id=current.venue_id,
            reason=reason,
        )
    return total


def _reason(reason: str) -> str:
    reason = (reason or "").strip()[:200]
    if not reason:
        raise TimetableError("reason")
    return reason


# ---------------------------------------------------------------------------------------------------
# One occurrence (or any slot): change, cancel


async def _slot_for_manager(actor: UserView, slot_id: int) -> dict[str, Any]:
    if not valid_id(slot_id):
        raise NotFound("slot")
    row = (
        await Slot.select(
            Slot.id,
            Slot.venue,
            Slot.starts_at,
            Slot.ends_at,
            Slot.capacity,
            Slot.booked,
            Slot.programme,
            Slot.title,
            Slot.kind,
            Slot.series_id,
            Slot.cancelled_at,
            Slot.cancel_reason,
        )
        .where(Slot.id == slot_id)
        .first()
    )
    if row is None:
        raise NotFound("slot")
    venues.require_manager(actor, row["venue"])
    return dict(row)


async def slot_info(actor: UserView, slot_id: int) -> dict[str, Any]:
    """The slot as staff manage it (cancelled or not, its series)."""
    return await _slot_for_manager(actor, slot_id)


async def edit_occurrence(actor: UserView, slot_id: int, start: time, end: time, capacity: int) -> None:
    """Change one slot's time (same day) and capacity; the capacity never goes below what is booked.
    Teachers holding a booking are told when the time moves."""
    row = await _slot_for_manager(actor, slot_id)
    if row["cancelled_at"] is not None:
        raise TimetableError("slot_cancelled")
    if row["starts_at"] <= clock.now():
        raise TimetableError("slot_started")
    if not 1 <= capacity <= 10000:
        raise TimetableError("capacity")
    if end <= start:
        raise RuleError("times")
    day = clock.local(row["starts_at"]).date()
    starts, ends = instants(day, start, end)
    if starts <= clock.now():
        raise TimetableError("slot_started")
    moved = starts != row["starts_at"] or ends != row["ends_at"]
    async with write_transaction():
        changed = await (
            Slot.update({Slot.starts_at: starts, Slot.ends_at: ends, Slot.capacity: capacity})
            .where((Slot.id == slot_id) & (Slot.booked <= capacity) & Slot.cancelled_at.is_null())
            .returning(Slot.id)
        )
        if not changed:
            fresh = await Slot.select(Slot.booked, Slot.cancelled_at).where(Slot.id == slot_id).first()
            if fresh is None:
                raise NotFound("slot")
            if fresh["cancelled_at"] is not None:
                raise TimetableError("slot_cancelled")
            raise TimetableError("capacity_below_booked", booked=fresh["booked"])
        await waitlist.places_freed(slot_id)  # a larger capacity goes to waiting classes first
        if moved:
            await _tell_moved(slot_id, row, starts, ends)
        await auditlog.record(
            actor,
            "slot.update",
            "slot",
            slot_id,
            before={"starts_at": row["starts_at"], "ends_at": row["ends_at"], "capacity": row["capacity"]},
            after={"starts_at": starts, "ends_at": ends, "capacity": capacity},
            venue_id=row["venue"],
        )


async def _tell_moved(slot_id: int, row: dict[str, Any], starts: datetime, ends: datetime) -> None:
    bookings = await Booking.select(
        Booking.id, Booking.teacher.email.as_alias("email"), Booking.teacher.as_alias("teacher_id")
    ).where((Booking.slot == slot_id) & Booking.status.is_in(list(HOLDS_PLACES)))
    venue = await venues.get_venue(row["venue"])
    with language(DEFAULT_LANGUAGE):
        subject = gettext("Your visit to {venue} has a new time").format(venue=venue.name)
        body = gettext(
            "The venue moved the slot you booked from {old} to {new}. Your booking stays as it is; "
            "if the new time does not suit your class, you can cancel it without a strike."
        ).format(
            old=clock.local(row["starts_at"]).strftime("%Y-%m-%d %H:%M"),
            new=f"{clock.local(starts).strftime('%Y-%m-%d %H:%M')}–{clock.local(ends).strftime('%H:%M')}",
        )
    for b in bookings:
        if b["email"]:
            await outbox.enqueue(
                kind="slot_moved",
                recipient=b["email"],
                subject=subject,
                body=body,
                user_id=b["teacher_id"],
                booking_id=b["id"],
            )


@dataclass
class Alternative:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    remaining: int
    title: str


@dataclass
class CancelSummary:
    slots: int = 0
    bookings: int = 0
    places: int = 0
    messages: int = 0


async def nearest_alternatives(
    venue_id: int,
    around: datetime,
    people: int,
    *,
    programme_id: int | None = None,
    exclude: int | None = None,
    limit: int = ALTERNATIVES,
) -> list[Alternative]:
    """Slots of the same venue (and programme, when the slot had one) a group of `people` could still
    book: not started, not cancelled, with room, not on a blackout day; the nearest to `around` first."""
    now = clock.now()
    query = Slot.select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.capacity, Slot.booked, Slot.title).where(
        (Slot.venue == venue_id)
        & (Slot.starts_at > now)
        & Slot.cancelled_at.is_null()
        & (Slot.booked <= Slot.capacity - people)
        & (Slot.starts_at > around - timedelta(days=60))
        & (Slot.starts_at < around + timedelta(days=60))
    )
    if programme_id is not None:
        query = query.where(Slot.programme == programme_id)
    if exclude is not None:
        query = query.where(Slot.id != exclude)
    rows = await query.limit(500)
    if not rows:
        return []
    closed = await _blackouts_between(
        venue_id, (around - timedelta(days=61)).date(), (around + timedelta(days=61)).date()
    )
    closed.update(
        await _closures_between(
            venue_id, (around - timedelta(days=61)).date(), (around + timedelta(days=61)).date()
        )
    )
    rows = [r for r in rows if clock.local(r["starts_at"]).date() not in closed]
    rows.sort(key=lambda r: (abs((r["starts_at"] - around).total_seconds()), r["starts_at"]))
    return [
        Alternative(
            slot_id=r["id"],
            starts_at=clock.local(r["starts_at"]),
            ends_at=clock.local(r["ends_at"]),
            remaining=r["capacity"] - r["booked"],
            title=r["title"],
        )
        for r in rows[:limit]
    ]


async def cancel_slot(actor: UserView, slot_id: int, reason: str) -> CancelSummary:
    """Cancel a slot (one-off or an occurrence): it takes no more bookings, its bookings are cancelled
    (no strike: the venue cancelled), its places freed, and each teacher gets an e-mail with the reason
    and the nearest alternatives, all in one write transaction."""
    reason = _reason(reason)
    row = await _slot_for_manager(actor, slot_id)
    async with write_transaction():
        summary = await _cancel_slot(actor, slot_id, reason)
        await auditlog.record(
            actor,
            "slot.cancel",
            "slot",
            slot_id,
            before={"cancelled": False},
            after={"cancelled": True, "bookings_cancelled": summary.bookings, "places_freed": summary.places},
            venue_id=row["venue"],
            reason=reason,
        )
    return summary


async def _cancel_slot(actor: UserView, slot_id: int, reason: str) -> CancelSummary:
    now = clock.now()
    query = Slot.select(
        Slot.id, Slot.venue, Slot.starts_at, Slot.ends_at, Slot.programme, Slot.title, Slot.cancelled_at
    ).where(Slot.id == slot_id)
    if not is_sqlite():
        query = query.lock_rows()
    row = await query.first()
    if row is None:
        raise NotFound("slot")
    if row["cancelled_at"] is not None:
        raise TimetableError("slot_cancelled")
    if row["starts_at"] <= now:
        raise TimetableError("slot_started")
    await Slot.update({Slot.cancelled_at: now, Slot.cancel_reason: reason}).where(Slot.id == slot_id)
    await waitlist.slot_cancelled(slot_id)  # holds on it are released; classes waiting for it only, told
    cancelled = await (
        Booking.update(
            {
                Booking.status: "cancelled",
                Booking.cancelled_at: now,
                Booking.cancelled_by: actor.id,
                Booking.updated_at: now,
            }
        )
        .where((Booking.slot == slot_id) & Booking.status.is_in(list(HOLDS_PLACES)))
        .returning(Booking.id, Booking.teacher, Booking.students, Booking.chaperones)
    )
    places = sum(b["students"] + b["chaperones"] for b in cancelled)
    if places:
        await Slot.update({Slot.booked: Slot.booked - places}).where(Slot.id == slot_id)
    summary = CancelSummary(slots=1, bookings=len(cancelled), places=places)
    if not cancelled:
        return summary
    venue = await venues.get_venue(row["venue"])
    emails = {
        r["id"]: r["email"]
        for r in await User.select(User.id, User.email).where(
            User.id.is_in([b["teacher"] for b in cancelled])
        )
    }
    # The alternatives depend only on the group's size: one query per size, none for teachers without mail.
    alternatives: dict[int, Any] = {}
    for b in cancelled:
        if not emails.get(b["teacher"]):
            continue
        people = b["students"] + b["chaperones"]
        if people not in alternatives:
            alternatives[people] = await nearest_alternatives(
                row["venue"], row["starts_at"], people, programme_id=row["programme"], exclude=slot_id
            )
        options = alternatives[people]
        subject, body = _cancel_message(venue.name, row, reason, people, options, b["id"])
        await outbox.enqueue(
            kind="slot_cancelled",
            recipient=emails[b["teacher"]],
            subject=subject,
            body=body,
            user_id=b["teacher"],
            booking_id=b["id"],
            dedupe_key=f"slot_cancelled:{b['id']}",
        )
        summary.messages += 1
    return summary


def _cancel_message(
    venue_name: str,
    row: dict[str, Any],
    reason: str,
    people: int,
    options: list[Alternative],
    booking_id: int,
) -> tuple[str, str]:
    starts, ends = clock.local(row["starts_at"]), clock.local(row["ends_at"])
    when = f"{starts.strftime('%Y-%m-%d %H:%M')}–{ends.strftime('%H:%M')}"
    with language(DEFAULT_LANGUAGE):
        subject = gettext("{venue} cancelled your visit on {when}").format(venue=venue_name, when=when)
        lines = [
            gettext(
                "{venue} cancelled the slot {when} that your class booked ({people} people). "
                "Your booking is cancelled and counts against nobody: no strike for your school."
            ).format(venue=venue_name, when=when, people=people),
            gettext("The venue's reason: {reason}").format(reason=reason),
            "",
        ]
        if options:
            lines.append(gettext("The nearest slots with room for your group:"))
            for o in options:
                lines.append(
                    "  · "
                    + gettext("{when} ({remaining} places left) — book at /slots/{slot}/book").format(
                        when=f"{o.starts_at.strftime('%Y-%m-%d %H:%M')}–{o.ends_at.strftime('%H:%M')}",
                        remaining=o.remaining,
                        slot=o.slot_id,
                    )
                )
        else:
            lines.append(gettext("No other slot of this venue has room for your group at the moment."))
        lines += ["", gettext("Your bookings: /bookings/{id}").format(id=booking_id)]
    return subject, "\n".join(lines)


@dataclass
class SlotNotice:
    booking_id: int
    venue_name: str
    starts_at: datetime
    reason: str
    alternatives: list[Alternative]


async def slot_notices(actor: UserView) -> list[SlotNotice]:
    """For a teacher's bookings page: their upcoming visits the venue cancelled, with the reason and
    the nearest alternatives now."""
    if not actor.is_teacher:
        return []
    rows = (
        await Booking.select(
            Booking.id,
            Booking.venue.as_alias("venue_id"),
            Booking.venue.name.as_alias("venue_name"),
            Booking.students,
            Booking.chaperones,
            Booking.slot.as_alias("slot_id"),
            Booking.slot.starts_at.as_alias("starts_at"),
            Booking.slot.programme.as_alias("programme_id"),
            Booking.slot.cancel_reason.as_alias("reason"),
        )
        .where(
            (Booking.teacher == actor.id)
            & (Booking.status == "cancelled")
            & Booking.slot.cancelled_at.is_not_null()
            & (Booking.slot.starts_at > clock.now() - timedelta(days=1))
        )
        .order_by(Booking.slot.starts_at)
        .limit(20)
    )
    out = []
    for r in rows:
        out.append(
            SlotNotice(
                booking_id=r["id"],
                venue_name=r["venue_name"],
                starts_at=clock.local(r["starts_at"]),
                reason=r["reason"],
                alternatives=await nearest_alternatives(
                    r["venue_id"],
                    r["starts_at"],
                    r["students"] + r["chaperones"],
                    programme_id=r["programme_id"],
                    exclude=r["slot_id"],
                ),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------
# Public holidays (auditors keep the list)


def _require_auditor(actor: UserView) -> None:
    if not actor.is_auditor:
        raise Forbidden("role")


async def list_holidays(year: int | None = None) -> list[dict[str, Any]]:
    query = PublicHoliday.select(PublicHoliday.day, PublicHoliday.name).order_by(PublicHoliday.day)
    if year is not None:
        query = query.where(
            (PublicHoliday.day >= date(year, 1, 1)) & (PublicHoliday.day <= date(year, 12, 31))
        )
    return list(await query)


async def set_holiday(actor: UserView, day: date, name: str) -> None:
    _require_auditor(actor)
    name = (name or "").strip()[:100]
    if not name:
        raise TimetableError("holiday_name")
    if not clock.in_range(day):
        raise RuleError("day_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    async with write_transaction():
        old = await PublicHoliday.select(PublicHoliday.name).where(PublicHoliday.day == day).first()
        await PublicHoliday.insert(PublicHoliday(day=day, name=name)).on_conflict(
            target=PublicHoliday.day, action="DO UPDATE", values=[PublicHoliday.name]
        )
        await auditlog.record(
            actor,
            "holiday.set",
            "holiday",
            day,
            before=None if old is None else {"day": day, "name": old["name"]},
            after={"day": day, "name": name},
        )


async def remove_holiday(actor: UserView, day: date) -> None:
    _require_auditor(actor)
    async with write_transaction():
        gone = await PublicHoliday.delete().where(PublicHoliday.day == day).returning(PublicHoliday.name)
        if gone:
            await auditlog.record(
                actor, "holiday.remove", "holiday", day, before={"day": day, "name": gone[0]["name"]}
            )


async def seed_holidays() -> int:
    """The holidays the timetable migration seeds, added again where missing (the demo calls this,
    since tests on PostgreSQL empty every table); returns how many were added."""
    from importlib import import_module

    seed = import_module("timetable.piccolo_migrations.timetable_2026_11_24t22_14_50_000000")
    added = 0
    async with write_transaction():
        for day, name in seed.holiday_days():
            rows = await (
                PublicHoliday.insert(PublicHoliday(day=date.fromisoformat(day), name=name))
                .on_conflict(target=PublicHoliday.day, action="DO NOTHING")
                .returning(PublicHoliday.id)
            )
            added += len(rows)
    return added


# ---------------------------------------------------------------------------------------------------
# Opening hours, closures, youth days


@dataclass
class WeekdayHours:
    weekday: int
    closed: bool
    opens: time | None
    closes: time | None

    def covers(self, start: time, end: time) -> bool:
        return (
            not self.closed
            and self.opens is not None
            and self.closes is not None
            and (self.opens <= start and end <= self.closes)
        )


async def _week(venue_id: int) -> dict[int, WeekdayHours]:
    rows = await OpeningHours.select(
        OpeningHours.weekday, OpeningHours.closed, OpeningHours.opens, OpeningHours.closes
    ).where(OpeningHours.venue == venue_id)
    return {
        r["weekday"]: WeekdayHours(
            weekday=r["weekday"],
            closed=r["closed"],
            opens=time.fromisoformat(r["opens"]) if r["opens"] and not r["closed"] else None,
            closes=time.fromisoformat(r["closes"]) if r["closes"] and not r["closed"] else None,
        )
        for r in rows
    }


async def weekly_hours(venue_id: int) -> list[WeekdayHours | None]:
    """Monday to Sunday; None where the venue has set nothing for that weekday."""
    week = await _week(venue_id)
    return [week.get(i) for i in range(7)]


async def set_weekly_hours(actor: UserView, venue_id: int, days: list[tuple[bool, str, str]]) -> None:
    """Seven (closed, opens, closes) from Monday; replaces the venue's weekly pattern."""
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    rows = []
    for i, (closed, opens, closes) in enumerate(days[:7]):
        if closed:
            rows.append(OpeningHours(venue=venue_id, weekday=i, closed=True, opens="", closes=""))
            continue
        try:
            o, c = time.fromisoformat(opens.strip()[:5]), time.fromisoformat(closes.strip()[:5])
        except ValueError:
            raise TimetableError("hours", day=gettext(WEEKDAY_NAMES[i])) from None
        if c <= o:
            raise TimetableError("hours", day=gettext(WEEKDAY_NAMES[i]))
        rows.append(
            OpeningHours(
                venue=venue_id, weekday=i, closed=False, opens=o.strftime("%H:%M"), closes=c.strftime("%H:%M")
            )
        )
    async with write_transaction():
        before = _hours_fields(await weekly_hours(venue_id))
        await OpeningHours.delete().where(OpeningHours.venue == venue_id)
        if rows:
            await OpeningHours.insert(*rows)
        after = _hours_fields(await weekly_hours(venue_id))
        await auditlog.record(
            actor, "hours.update", "opening_hours", venue_id, before, after, venue_id=venue_id
        )


def _hours_fields(week: list[WeekdayHours | None]) -> dict[str, str]:
    """The weekly pattern as the audit log shows it: per weekday "closed", "09:00–17:00" or "" (unset)."""
    out = {}
    for i, d in enumerate(week):
        text = ""
        if d is not None:
            text = (
                "closed" if d.closed or not d.opens or not d.closes else f"{d.opens:%H:%M}–{d.closes:%H:%M}"
            )
        out[WEEKDAY_NAMES[i]] = text
    return out


WEEKDAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


async def list_closures(venue_id: int, since: date | None = None) -> list[dict[str, Any]]:
    query = Closure.select(Closure.day, Closure.reason).where(Closure.venue == venue_id).order_by(Closure.day)
    if since is not None:
        query = query.where(Closure.day >= since)
    return list(await query)


async def set_closure(actor: UserView, venue_id: int, day: date, reason: str) -> None:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    if day < clock.today():
        raise TimetableError("closure_past")
    if not clock.in_range(day):
        raise RuleError("day_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    reason = (reason or "").strip()[:200]
    async with write_transaction():
        old = (
            await Closure.select(Closure.reason)
            .where((Closure.venue == venue_id) & (Closure.day == day))
            .first()
        )
        await Closure.insert(Closure(venue=venue_id, day=day, reason=reason)).on_conflict(
            target=(Closure.venue, Closure.day), action="DO UPDATE", values=[Closure.reason]
        )
        await auditlog.record(
            actor,
            "closure.set",
            "closure",
            day,
            before=None if old is None else {"day": day, "reason": old["reason"]},
            after={"day": day, "reason": reason},
            venue_id=venue_id,
        )


async def remove_closure(actor: UserView, venue_id: int, day: date) -> None:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    async with write_transaction():
        gone = await (
            Closure.delete()
            .where((Closure.venue == venue_id) & (Closure.day == day))
            .returning(Closure.reason)
        )
        if gone:
            before = {"day": day, "reason": gone[0]["reason"]}
            await auditlog.record(actor, "closure.remove", "closure", day, before=before, venue_id=venue_id)


async def list_youth_days(venue_id: int) -> list[dict[str, Any]]:
    return list(
        await YouthDay.select(YouthDay.id, YouthDay.weekday, YouthDay.day, YouthDay.kind, YouthDay.note)
        .where(YouthDay.venue == venue_id)
        .order_by(YouthDay.weekday)
        .order_by(YouthDay.day)
    )


async def add_youth_day(
    actor: UserView, venue_id: int, *, weekday: int | None, day: date | None, kind: str, note: str = ""
) -> None:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    if (weekday is None) == (day is None) or (weekday is not None and not 0 <= weekday <= 6):
        raise TimetableError("youth_day")
    if day is not None and not clock.in_range(day):
        raise RuleError("day_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    if kind not in YOUTH_KINDS:
        raise TimetableError("kind")
    note = (note or "").strip()[:200]
    async with write_transaction():
        rows = await YouthDay.insert(
            YouthDay(venue=venue_id, weekday=weekday, day=day, kind=kind, note=note)
        ).returning(YouthDay.id)
        after = {"weekday": weekday, "day": day, "kind": kind, "note": note}
        await auditlog.record(
            actor, "youth_day.add", "youth_day", rows[0]["id"], after=after, venue_id=venue_id
        )


async def remove_youth_day(actor: UserView, venue_id: int, youth_day_id: int) -> None:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    if not valid_id(youth_day_id):
        return
    async with write_transaction():
        gone = await (
            YouthDay.delete()
            .where((YouthDay.id == youth_day_id) & (YouthDay.venue == venue_id))
            .returning(YouthDay.weekday, YouthDay.day, YouthDay.kind, YouthDay.note)
        )
        if gone:
            await auditlog.record(
                actor, "youth_day.remove", "youth_day", youth_day_id, before=dict(gone[0]), venue_id=venue_id
            )


@dataclass
class DayHours:
    """A venue's hours on one day. `configured` is False when the venue has set no weekly pattern for
    that weekday: kepu then assumes it open (a venue without hours takes slots at any time)."""

    day: date
    open: bool
    opens: time | None
    closes: time | None
    reason: str
    configured: bool
    youth: str  # "" | free | discount


async def opening_hours(venue_id: int, day: date) -> DayHours:
    """Whether and when a venue is open on a day: a closure day or a closed weekday is shut; a public
    holiday follows the weekly pattern (many venues open on holidays)."""
    closure = (
        await Closure.select(Closure.reason).where((Closure.venue == venue_id) & (Closure.day == day)).first()
    )
    youth = await _youth_kind(venue_id, day)
    hours = (await _week(venue_id)).get(day.weekday())
    if closure is not None:
        return DayHours(day, False, None, None, closure["reason"], hours is not None, youth)
    if hours is None:
        return DayHours(day, True, None, None, "", False, youth)
    if hours.closed:
        return DayHours(day, False, None, None, "", True, youth)
    return DayHours(day, True, hours.opens, hours.closes, "", True, youth)


async def is_open(venue_id: int, at: datetime) -> bool:
    """Whether the venue is open at an instant (closing time itself is closed)."""
    local = clock.local(clock.as_aware(at))
    hours = await opening_hours(venue_id, local.date())
    if not hours.open:
        return False
    if hours.opens is None or hours.closes is None:
        return True
    return hours.opens <= local.time() < hours.closes


async def outside_hours(venue_id: int, starts: datetime, ends: datetime) -> bool:
    """Whether a slot falls (partly) outside the venue's opening hours that day, or on a closed day.
    A venue without hours for that weekday has none to fall outside of. Slot forms warn with this
    (they do not refuse: an evening lab open day outside the usual hours is legitimate)."""
    local_start, local_end = clock.local(starts), clock.local(ends)
    hours = await opening_hours(venue_id, local_start.date())
    if not hours.open:
        return True
    if hours.opens is None or hours.closes is None:
        return False
    return not (hours.opens <= local_start.time() and local_end.time() <= hours.closes)


async def _youth_kind(venue_id: int, day: date) -> str:
    rows = await YouthDay.select(YouthDay.kind).where(
        (YouthDay.venue == venue_id) & ((YouthDay.day == day) | (YouthDay.weekday == day.weekday()))
    )
    kinds = {r["kind"] for r in rows}
    return "free" if "free" in kinds else ("discount" if kinds else "")


async def scheduled_open_days(venue_id: int, year: int) -> int | None:
    """How many days of a year the venue's weekly hours and closure days keep it open (the figure the
    evaluation sets beside the days it actually admitted visitors); None when it has set no hours."""
    week = await _week(venue_id)
    if not week:
        return None
    closed = set((await _closures_between(venue_id, date(year, 1, 1), date(year, 12, 31))).keys())
    day, count = date(year, 1, 1), 0
    while day.year == year:
        hours = week.get(day.weekday())
        count += day not in closed and (hours is None or not hours.closed)
        day += timedelta(days=1)
    return count


async def youth_free_days(venue_id: int, year: int) -> list[date]:
    """The days of a year on which young people enter the venue free and it is open."""
    rows = await list_youth_days(venue_id)
    weekdays = {r["weekday"] for r in rows if r["kind"] == "free" and r["weekday"] is not None}
    dates = {r["day"] for r in rows if r["kind"] == "free" and r["day"] is not None and r["day"].year == year}
    week = await _week(venue_id)
    closed = set((await _closures_between(venue_id, date(year, 1, 1), date(year, 12, 31))).keys())
    out = []
    day = date(year, 1, 1)
    while day.year == year:
        if (day.weekday() in weekdays or day in dates) and day not in closed:
            hours = week.get(day.weekday())
            if hours is None or not hours.closed or day in dates:
                out.append(day)
        day += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------------
# Walk-ins


@dataclass
class WalkInTotals:
    day: date
    adults: int
    youth: int

    @property
    def total(self) -> int:
        return self.adults + self.youth


async def walk_in_totals(venue_id: int, day: date) -> WalkInTotals:
    rows = await WalkIn.raw(
        "SELECT COALESCE(SUM(adults), 0) AS adults, COALESCE(SUM(youth), 0) AS youth "
        "FROM timetable_walkin WHERE venue = {} AND day = {}",
        venue_id,
        day,
    )
    return WalkInTotals(day=day, adults=int(rows[0]["adults"]), youth=int(rows[0]["youth"]))


async def record_walk_in(
    actor: UserView, *, adults: int, youth: int, day: date | None = None, nonce: str | None = None
) -> WalkInTotals:
    """Add a door's change to the day's tally. Each change is its own row, so doors counting at the
    same moment never lose a count; a nonce already seen changes nothing (a retried upload); a
    correction never takes a day's count below zero."""
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    venue_id = actor.venue_id
    today = clock.today()
    day = day or today
    if not today - timedelta(days=WALKIN_PAST_DAYS) <= day <= today:
        raise TimetableError("walkin_day", days=WALKIN_PAST_DAYS)
    if not (-WALKIN_STEP_MAX <= adults <= WALKIN_STEP_MAX and -WALKIN_STEP_MAX <= youth <= WALKIN_STEP_MAX):
        raise TimetableError("walkin_step", max=WALKIN_STEP_MAX)
    nonce = (nonce or "").strip()[:64] or None
    async with write_transaction():
        if nonce is not None and await WalkIn.exists().where(WalkIn.nonce == nonce):
            return await walk_in_totals(venue_id, day)
        if adults < 0 or youth < 0:
            # A correction reads the tally first: serialise corrections of the venue (SQLite's
            # IMMEDIATE transaction already does; on PostgreSQL lock the venue's row).
            if not is_sqlite():
                await WalkIn.raw("SELECT id FROM venues_venue WHERE id = {} FOR UPDATE", venue_id)
            now_totals = await walk_in_totals(venue_id, day)
            adults = max(adults, -now_totals.adults)
            youth = max(youth, -now_totals.youth)
        if adults or youth:
            await WalkIn.insert(
                WalkIn(
                    venue=venue_id,
                    day=day,
                    adults=adults,
                    youth=youth,
                    staff=actor.id,
                    nonce=nonce,
                    created_at=clock.now(),
                )
            ).on_conflict(target=WalkIn.nonce, action="DO NOTHING")
        return await walk_in_totals(venue_id, day)


async def walk_ins(venue_id: int, year: int) -> dict[str, Any]:
    """A venue's walk-ins in a calendar year: {"adults", "youth", "total", "days": {date: {...}}},
    the days with any walk-in, for the yearly evaluation (visitors without a booking)."""
    rows = await WalkIn.raw(
        "SELECT day, COALESCE(SUM(adults), 0) AS adults, COALESCE(SUM(youth), 0) AS youth "
        "FROM timetable_walkin WHERE venue = {} AND day >= {} AND day <= {} GROUP BY day ORDER BY day",
        venue_id,
        date(year, 1, 1),
        date(year, 12, 31),
    )
    days: dict[date, dict[str, int]] = {}
    for r in rows:
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
        a, y = int(r["adults"]), int(r["youth"])
        if a or y:
            days[day] = {"adults": a, "youth": y}
    adults = sum(d["adults"] for d in days.values())
    youth = sum(d["youth"] for d in days.values())
    return {"adults": adults, "youth": youth, "total": adults + youth, "days": days}
