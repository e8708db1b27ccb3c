"""The waiting list: it holds a class (a headcount), not a seat.

A teacher joins from a full slot with their numbers and a flexibility: "slot" (only this slot) or
"day" (any slot that day at this venue, of the same programme when the slot has one). Whenever
places free up on a slot (a booking cancelled or declined, a headcount lowered, a hold released,
the capacity raised), the caller, inside the same write transaction, calls `places_freed(slot_id)`:
the oldest waiting entry that fits the free places is offered them with a hold of
KEPU_WAITLIST_HOLD_HOURS (24). The hold counts in the slot's `booked`, so nobody else can take the
places, and the entry row records it (status "offered", `offered_slot`, `offer_expires_at`).
Accepting in time turns the hold into a booking (confirmed, or requested at a request-mode venue)
with those very places; declining, leaving or lapsing (`expire_holds`, run by the worker) releases
them and offers them to the next entry.

Why two freed places are never offered twice: an offer takes the entry with a conditional UPDATE
(status still "waiting") and the places with a conditional UPDATE of the slot (booked stays within
capacity), both in the caller's write transaction; on PostgreSQL the caller has already updated (so
locked) the slot row, and on SQLite the transaction holds the write lock.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from accounts.schemas import UserView
from accounts.tables import User
from bookings import keys, sanctions
from bookings.rules import Rules, check_booking
from bookings.tables import WaitlistEntry
from core import clock, i18n
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_, gettext
from messaging import outbox
from messaging.notify import email_address
from venues import services as venues
from venues.tables import Slot, Venue

ACTIVE = ("waiting", "offered")
FLEXIBILITIES = ("slot", "day")


def hold_hours() -> int:
    raw = os.environ.get("KEPU_WAITLIST_HOLD_HOURS", "").strip()
    try:
        hours = int(raw) if raw else 24
    except ValueError:
        return 24
    return hours if hours > 0 else 24


class WaitlistError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "nobody": (422, N_("Enter how many students and adults would come: at least one person.")),
        "bad_flexibility": (422, N_("Choose whether only this slot or any slot that day suits you.")),
        "has_room": (
            409,
            N_("This slot has {remaining} places left, enough for your group of {people}: book it instead."),
        ),
        "too_large": (
            409,
            N_("This slot holds {capacity} people in all, fewer than your group of {people}."),
        ),
        "slot_started": (409, N_("This slot has already started; the waiting list is closed.")),
        "slot_cancelled": (409, N_("This slot was cancelled; choose another one.")),
        "already_waiting": (
            409,
            N_("You are already on the waiting list for this slot; see your place under My waiting list."),
        ),
        "no_offer": (
            409,
            N_("There is no offer to answer: it was already accepted, declined or has lapsed."),
        ),
        "offer_lapsed": (
            409,
            N_("The offer lapsed at {until}; the places went to the next class on the list."),
        ),
        "not_active": (409, N_("This entry is no longer on the waiting list.")),
    }


Count = Annotated[int, msgspec.Meta(ge=0, le=10000)]
Text200 = Annotated[str, msgspec.Meta(max_length=200)]


class WaitlistForm(msgspec.Struct, forbid_unknown_fields=True):
    slot_id: int
    students: Count = 0
    chaperones: Count = 0
    flexibility: str = "slot"
    grade: Text200 | None = None
    class_name: Text200 | None = None
    grade_band: Literal["preschool", "primary_low", "primary_high", "junior", "senior"] | None = None


class WaitlistView(msgspec.Struct):
    id: int
    slot_id: int
    venue_id: int
    venue_name: str
    starts_at: datetime
    ends_at: datetime
    slot_title: str
    day: date
    flexibility: str
    school_id: int
    teacher_id: int
    students: int
    chaperones: int
    grade: str
    class_name: str
    grade_band: str | None
    status: str
    offered_slot_id: int | None
    offered_starts_at: datetime | None
    offer_expires_at: datetime | None
    booking_id: int | None
    created_at: datetime
    position: int = 0

    @property
    def people(self) -> int:
        return self.students + self.chaperones


COLUMNS: tuple[Any, ...] = (
    WaitlistEntry.id,
    WaitlistEntry.slot.as_alias("slot_id"),
    WaitlistEntry.venue.as_alias("venue_id"),
    WaitlistEntry.venue.name.as_alias("venue_name"),
    WaitlistEntry.slot.starts_at.as_alias("starts_at"),
    WaitlistEntry.slot.ends_at.as_alias("ends_at"),
    WaitlistEntry.slot.title.as_alias("slot_title"),
    WaitlistEntry.day,
    WaitlistEntry.flexibility,
    WaitlistEntry.school.as_alias("school_id"),
    WaitlistEntry.teacher.as_alias("teacher_id"),
    WaitlistEntry.students,
    WaitlistEntry.chaperones,
    WaitlistEntry.grade,
    WaitlistEntry.class_name,
    WaitlistEntry.grade_band,
    WaitlistEntry.status,
    WaitlistEntry.offered_slot.as_alias("offered_slot_id"),
    WaitlistEntry.offered_slot.starts_at.as_alias("offered_starts_at"),
    WaitlistEntry.offer_expires_at,
    WaitlistEntry.booking.as_alias("booking_id"),
    WaitlistEntry.created_at,
)


def _view(row: dict[str, Any]) -> WaitlistView:
    data = dict(row)
    for f in ("starts_at", "ends_at", "offered_starts_at", "offer_expires_at", "created_at"):
        if data[f] is not None:
            data[f] = clock.local(data[f])
    return WaitlistView(**data)


async def _position(entry: WaitlistView) -> int:
    """1 + the waiting entries before this one that could take the same slot's places."""
    if entry.status != "waiting":
        return 0
    ahead = await WaitlistEntry.count().where(
        (WaitlistEntry.status == "waiting")
        & (WaitlistEntry.venue == entry.venue_id)
        & (WaitlistEntry.day == entry.day)
        & ((WaitlistEntry.slot == entry.slot_id) | (WaitlistEntry.flexibility == "day"))
        & (
            (WaitlistEntry.created_at < entry.created_at)
            | ((WaitlistEntry.created_at == entry.created_at) & (WaitlistEntry.id < entry.id))
        )
    )
    return int(ahead) + 1


async def get_entry(actor: UserView, entry_id: int) -> WaitlistView:
    """The teacher's own entry (staff of the venue and auditors may look too); else not found."""
    if not valid_id(entry_id):
        raise NotFound("booking")
    query = WaitlistEntry.select(*COLUMNS).where(WaitlistEntry.id == entry_id)
    if actor.is_teacher:
        query = query.where(WaitlistEntry.teacher == actor.id)
    elif actor.is_staff:
        query = query.where(WaitlistEntry.venue == (actor.venue_id or -1))
    row = await query.first()
    if row is None:
        raise NotFound("booking")
    view = _view(row)
    view.position = await _position(view)
    return view


async def list_entries(actor: UserView, *, slot_id: int | None = None) -> list[WaitlistView]:
    query = WaitlistEntry.select(*COLUMNS).order_by(WaitlistEntry.created_at).order_by(WaitlistEntry.id)
    if actor.is_teacher:
        query = query.where(WaitlistEntry.teacher == actor.id)
    elif actor.is_staff:
        query = query.where(WaitlistEntry.venue == (actor.venue_id or -1))
    if slot_id is not None:
        query = query.where((WaitlistEntry.slot == slot_id) | (WaitlistEntry.offered_slot == slot_id))
    out = [_view(r) for r in await query]
    for e in out:
        e.position = await _position(e)
    return out


async def join(actor: UserView, form: WaitlistForm) -> WaitlistView:
    """Put the teacher's class on the waiting list of a slot that has no room for it."""
    if not actor.is_teacher or actor.school_id is None:
        raise Forbidden("role")
    if form.students < 0 or form.chaperones < 0 or form.students + form.chaperones < 1:
        raise WaitlistError("nobody")
    if form.flexibility not in FLEXIBILITIES:
        raise WaitlistError("bad_flexibility")
    if not valid_id(form.slot_id):
        raise NotFound("slot")
    slot = (
        await Slot.select(
            Slot.id, Slot.venue, Slot.starts_at, Slot.capacity, Slot.booked, Slot.programme, Slot.cancelled_at
        )
        .where(Slot.id == form.slot_id)
        .first()
    )
    if slot is None:
        raise NotFound("slot")
    if slot["cancelled_at"] is not None:
        raise WaitlistError("slot_cancelled")
    if slot["starts_at"] <= clock.now():
        raise WaitlistError("slot_started")
    people = form.students + form.chaperones
    if people > slot["capacity"] and form.flexibility == "slot":
        raise WaitlistError("too_large", capacity=slot["capacity"], people=people)
    await sanctions.ensure_may_book(actor.school_id)
    venue_id = int(slot["venue"])
    day = clock.local(slot["starts_at"]).date()
    rules = Rules.of(await venues.get_venue(venue_id))
    breach = check_booking(
        rules,
        today=clock.today(),
        day=day,
        students=form.students,
        chaperones=form.chaperones,
        band=form.grade_band,
        blackout_reason=await venues.blackout_reason(venue_id, day),
    )
    if breach is not None:
        from bookings.services import BookingError

        raise BookingError(breach.code, **{"alternative": "", **breach.params})
    now = clock.now()
    async with write_transaction():
        fresh = await Slot.select(Slot.capacity, Slot.booked).where(Slot.id == form.slot_id).first()
        assert fresh is not None
        remaining = fresh["capacity"] - fresh["booked"]
        if remaining >= people:
            raise WaitlistError("has_room", remaining=remaining, people=people)
        if await WaitlistEntry.exists().where(
            (WaitlistEntry.slot == form.slot_id)
            & (WaitlistEntry.teacher == actor.id)
            & WaitlistEntry.status.is_in(list(ACTIVE))
        ):
            raise WaitlistError("already_waiting")
        rows = await WaitlistEntry.insert(
            WaitlistEntry(
                slot=form.slot_id,
                venue=venue_id,
                day=day,
                programme_id=slot["programme"],
                flexibility=form.flexibility,
                school=actor.school_id,
                teacher=actor.id,
                students=form.students,
                chaperones=form.chaperones,
                grade=(form.grade or "").strip(),
                class_name=(form.class_name or "").strip(),
                grade_band=form.grade_band,
                status="waiting",
                created_at=now,
                updated_at=now,
            )
        ).returning(WaitlistEntry.id)
    return await get_entry(actor, rows[0]["id"])


async def _notify_offer(entry: dict[str, Any], slot: dict[str, Any], until: datetime) -> None:
    teacher = await User.select().where(User.id == entry["teacher"]).first()
    recipient = email_address(teacher) if teacher else ""
    if not recipient:  # no address: the offer shows on the teacher's waiting-list page only
        return
    assert teacher is not None
    with i18n.language(str(teacher.get("language") or i18n.DEFAULT_LANGUAGE)):
        await _queue_offer(entry, slot, until, recipient)


async def _queue_offer(entry: dict[str, Any], slot: dict[str, Any], until: datetime, recipient: str) -> None:
    venue = await Venue.select(Venue.name).where(Venue.id == slot["venue"]).first()
    link = f"/waitlist/{entry['id']}"
    base = os.environ.get("KEPU_BASE_URL", "").rstrip("/")
    body = gettext(
        "Places are free for your class of {people} at {venue} on {when}. They are held for you until "
        "{until}. Accept or decline here: {link}"
    ).format(
        people=entry["students"] + entry["chaperones"],
        venue=venue["name"] if venue else "",
        when=clock.local(slot["starts_at"]).strftime("%Y-%m-%d %H:%M"),
        until=clock.local(until).strftime("%Y-%m-%d %H:%M"),
        link=base + link,
    )
    await outbox.enqueue(
        kind="waitlist_offer",
        recipient=recipient,
        subject=gettext("Places free for your class: accept by {until}").format(
            until=clock.local(until).strftime("%Y-%m-%d %H:%M")
        ),
        body=body,
        user_id=entry["teacher"],
        dedupe_key=f"waitlist_offer:{entry['id']}:{slot['id']}",
    )


async def places_freed(slot_id: int) -> int:
    """Offer a slot's free places to the waiting list, oldest fitting entry first; call it inside the
    write transaction that freed them. Returns how many entries were offered places."""
    offered = 0
    skipped: set[int] = set()
    while True:
        slot = (
            await Slot.select(
                Slot.id,
                Slot.venue,
                Slot.starts_at,
                Slot.capacity,
                Slot.booked,
                Slot.programme,
                Slot.cancelled_at,
            )
            .where(Slot.id == slot_id)
            .first()
        )
        if slot is None or slot["cancelled_at"] is not None or slot["starts_at"] <= clock.now():
            return offered
        free = slot["capacity"] - slot["booked"]
        if free <= 0:
            return offered
        day = clock.local(slot["starts_at"]).date()
        same_day_flexible = (
            (WaitlistEntry.flexibility == "day")
            & (WaitlistEntry.venue == slot["venue"])
            & (WaitlistEntry.day == day)
        )
        if slot["programme"] is not None:
            same_day_flexible &= (WaitlistEntry.programme_id == slot["programme"]) | (
                WaitlistEntry.programme_id.is_null()
            )
        else:
            same_day_flexible &= WaitlistEntry.programme_id.is_null()
        candidates = (
            await WaitlistEntry.select(
                WaitlistEntry.id,
                WaitlistEntry.teacher,
                WaitlistEntry.school,
                WaitlistEntry.students,
                WaitlistEntry.chaperones,
            )
            .where(WaitlistEntry.status == "waiting")
            .where((WaitlistEntry.slot == slot_id) | same_day_flexible)
            .order_by(WaitlistEntry.created_at)
            .order_by(WaitlistEntry.id)
        )
        fitting = [
            c for c in candidates if c["id"] not in skipped and c["students"] + c["chaperones"] <= free
        ]
        if not fitting:
            return offered
        venue = await venues.get_venue(int(slot["venue"]))
        rules = Rules.of(venue)
        restricted = await sanctions.sanctions_of(sorted({c["school"] for c in fitting}))
        chosen = None
        for c in fitting:
            people = c["students"] + c["chaperones"]
            if restricted[c["school"]].restricted:
                skipped.add(c["id"])
                continue
            if (
                rules.daily_cap is not None
                and await venues.day_load(int(slot["venue"]), day) + people > rules.daily_cap
            ):
                skipped.add(c["id"])
                continue
            chosen = c
            break
        if chosen is None:
            return offered
        people = chosen["students"] + chosen["chaperones"]
        now = clock.now()
        until = min(now + timedelta(hours=hold_hours()), slot["starts_at"])
        claimed = await (
            WaitlistEntry.update(
                {
                    WaitlistEntry.status: "offered",
                    WaitlistEntry.offered_slot: slot_id,
                    WaitlistEntry.offered_at: now,
                    WaitlistEntry.offer_expires_at: until,
                    WaitlistEntry.updated_at: now,
                }
            )
            .where((WaitlistEntry.id == chosen["id"]) & (WaitlistEntry.status == "waiting"))
            .returning(WaitlistEntry.id)
        )
        if not claimed:
            skipped.add(chosen["id"])
            continue
        taken = await (
            Slot.update({Slot.booked: Slot.booked + people})
            .where((Slot.id == slot_id) & (Slot.booked <= Slot.capacity - people))
            .returning(Slot.booked)
        )
        if not taken:  # someone took the places meanwhile: the entry keeps waiting
            await WaitlistEntry.update(
                {
                    WaitlistEntry.status: "waiting",
                    WaitlistEntry.offered_slot: None,
                    WaitlistEntry.offered_at: None,
                    WaitlistEntry.offer_expires_at: None,
                }
            ).where(WaitlistEntry.id == chosen["id"])
            return offered
        await _notify_offer(chosen, slot, until)
        offered += 1


async def _release(entry_id: int, to_status: str, *, only_lapsed: bool = False) -> bool:
    """Inside a write transaction: end an offer and give its places to the next entry."""
    now = clock.now()
    cond = (WaitlistEntry.id == entry_id) & (WaitlistEntry.status == "offered")
    if only_lapsed:
        cond &= WaitlistEntry.offer_expires_at <= now
    rows = await (
        WaitlistEntry.update({WaitlistEntry.status: to_status, WaitlistEntry.updated_at: now})
        .where(cond)
        .returning(WaitlistEntry.offered_slot, WaitlistEntry.students, WaitlistEntry.chaperones)
    )
    if not rows:
        return False
    slot_id = rows[0]["offered_slot"]
    people = rows[0]["students"] + rows[0]["chaperones"]
    await Slot.update({Slot.booked: Slot.booked - people}).where(Slot.id == slot_id)
    await places_freed(slot_id)
    return True


async def slot_cancelled(slot_id: int) -> int:
    """Call inside the write transaction that cancels a slot: its holds are released (the entries are
    "closed"), and entries that wanted only this slot are closed too; entries flexible about the day
    keep waiting for the day's other slots. Returns how many entries were closed."""
    now = clock.now()
    held = await (
        WaitlistEntry.update({WaitlistEntry.status: "closed", WaitlistEntry.updated_at: now})
        .where((WaitlistEntry.offered_slot == slot_id) & (WaitlistEntry.status == "offered"))
        .returning(WaitlistEntry.students, WaitlistEntry.chaperones)
    )
    places = sum(r["students"] + r["chaperones"] for r in held)
    if places:
        await Slot.update({Slot.booked: Slot.booked - places}).where(Slot.id == slot_id)
    only_this = await (
        WaitlistEntry.update({WaitlistEntry.status: "closed", WaitlistEntry.updated_at: now})
        .where(
            (WaitlistEntry.slot == slot_id)
            & (WaitlistEntry.status == "waiting")
            & (WaitlistEntry.flexibility == "slot")
        )
        .returning(WaitlistEntry.id)
    )
    return len(held) + len(only_this)


async def expire_holds() -> int:
    """Release every lapsed hold and pass its places on; returns how many lapsed. Run by `kepu worker`."""
    lapsed = await WaitlistEntry.select(WaitlistEntry.id).where(
        (WaitlistEntry.status == "offered") & (WaitlistEntry.offer_expires_at <= clock.now())
    )
    count = 0
    for row in lapsed:
        async with write_transaction():
            if await _release(row["id"], "expired", only_lapsed=True):
                count += 1
    return count


async def _own(actor: UserView, entry_id: int) -> WaitlistView:
    entry = await get_entry(actor, entry_id)
    if not actor.is_teacher or entry.teacher_id != actor.id:
        raise Forbidden("role")
    return entry


async def decline(actor: UserView, entry_id: int) -> WaitlistView:
    """The teacher turns the offer down: the places go to the next entry; the entry leaves the list."""
    await _own(actor, entry_id)
    async with write_transaction():
        if not await _release(entry_id, "declined"):
            raise WaitlistError("no_offer")
    return await get_entry(actor, entry_id)


async def leave(actor: UserView, entry_id: int) -> WaitlistView:
    """Leave the list; an offer held for the entry is released to the next one."""
    await _own(actor, entry_id)
    now = clock.now()
    async with write_transaction():
        left = await (
            WaitlistEntry.update({WaitlistEntry.status: "left", WaitlistEntry.updated_at: now})
            .where((WaitlistEntry.id == entry_id) & (WaitlistEntry.status == "waiting"))
            .returning(WaitlistEntry.id)
        )
        if not left and not await _release(entry_id, "left"):
            raise WaitlistError("not_active")
    return await get_entry(actor, entry_id)


async def accept(actor: UserView, entry_id: int) -> int:
    """Turn the held places into a booking; returns the booking's id."""
    entry = await _own(actor, entry_id)
    if entry.status != "offered":
        raise WaitlistError("no_offer")
    assert entry.offered_slot_id is not None and entry.offer_expires_at is not None
    await sanctions.ensure_may_book(entry.school_id)
    if entry.offer_expires_at <= clock.now():
        async with write_transaction():
            await _release(entry_id, "expired", only_lapsed=True)
        raise WaitlistError("offer_lapsed", until=entry.offer_expires_at.strftime("%Y-%m-%d %H:%M"))
    slot = (
        await Slot.select(Slot.venue, Slot.starts_at, Slot.cancelled_at)
        .where(Slot.id == entry.offered_slot_id)
        .first()
    )
    assert slot is not None
    if slot["cancelled_at"] is not None:
        raise WaitlistError("slot_cancelled")
    venue_id = int(slot["venue"])
    rules = Rules.of(await venues.get_venue(venue_id))
    day = clock.local(slot["starts_at"]).date()
    key = await keys.ensure_key()
    now = clock.now()
    async with write_transaction():
        taken = await (
            WaitlistEntry.update({WaitlistEntry.status: "booked", WaitlistEntry.updated_at: now})
            .where(
                (WaitlistEntry.id == entry_id)
                & (WaitlistEntry.status == "offered")
                & (WaitlistEntry.offer_expires_at > now)
            )
            .returning(WaitlistEntry.id)
        )
        if not taken:
            raise WaitlistError("no_offer")
        from bookings.services import insert_booking  # services imports this module

        booking_id = await insert_booking(
            {
                "slot": entry.offered_slot_id,
                "venue": venue_id,
                "school": entry.school_id,
                "teacher": actor.id,
                "status": "requested" if rules.needs_approval else "confirmed",
                "students": entry.students,
                "chaperones": entry.chaperones,
                "grade": entry.grade,
                "class_name": entry.class_name,
                "grade_band": entry.grade_band,
            },
            key=key,
            day=day,
            now=now,
        )
        await WaitlistEntry.update({WaitlistEntry.booking: booking_id}).where(WaitlistEntry.id == entry_id)
    return booking_id


def state_label(status: str) -> str:
    return gettext(
        {
            "waiting": N_("Waiting"),
            "offered": N_("Places offered"),
            "booked": N_("Booked"),
            "declined": N_("Declined"),
            "expired": N_("Offer lapsed"),
            "left": N_("Left the list"),
            "closed": N_("Slot cancelled"),
        }.get(status, status)
    )


def _register_job() -> None:
    """`kepu worker` runs expire_holds every pass (messaging/worker.py imports this module)."""
    from messaging import worker

    if expire_holds not in worker.JOBS:
        worker.JOBS.append(expire_holds)


_register_job()
