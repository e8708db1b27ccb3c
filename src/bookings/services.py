"""Booking rules: booking a slot without overselling it, reading and cancelling bookings."""

from __future__ import annotations

from typing import Any, ClassVar

from accounts.schemas import UserView
from bookings import keys
from bookings.schemas import BookingForm, BookingView
from bookings.tables import Booking
from bookings.tickets import PassClaims, issue_pass, new_pass_code
from core import clock
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_
from venues.tables import Slot


class BookingError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "slot_full": (
            409,
            N_(
                "This slot has {remaining} places left and your group needs {needed}. "
                "Choose another slot or book for fewer people."
            ),
        ),
        "slot_started": (409, N_("This slot has already started; bookings close when a slot begins.")),
        "nobody": (422, N_("A booking needs at least one person: enter the number of students or adults.")),
        "already_cancelled": (409, N_("This booking is already cancelled.")),
        "already_admitted": (
            409,
            N_("This class has already been checked in, so the booking can no longer be cancelled."),
        ),
        "changed": (409, N_("This booking was changed at the same moment; reload it and try again.")),
    }


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
    Booking.code,
    Booking.qr_token,
    Booking.slot.starts_at.as_alias("starts_at"),
    Booking.slot.ends_at.as_alias("ends_at"),
    Booking.slot.title.as_alias("slot_title"),
    Booking.admitted_students,
    Booking.admitted_chaperones,
    Booking.created_at,
    Booking.cancelled_at,
)


def booking_view(row: dict[str, Any]) -> BookingView:
    data = dict(row)
    for field in ("starts_at", "ends_at", "created_at", "cancelled_at"):
        if data[field] is not None:
            data[field] = clock.local(data[field])
    return BookingView(**data)


def visible_to(actor: UserView) -> Any:
    """The where-clause of bookings an actor may see; None means all of them."""
    if actor.is_auditor:
        return None
    if actor.is_staff:
        return Booking.venue == (actor.venue_id or -1)
    return Booking.teacher == actor.id


async def get_booking(actor: UserView, booking_id: int) -> BookingView:
    """A booking the actor may see; any other is reported as missing (never 403: no existence leak)."""
    if not valid_id(booking_id):
        raise NotFound("booking")
    query = Booking.select(*BOOKING_COLUMNS).where(Booking.id == booking_id)
    scope = visible_to(actor)
    if scope is not None:
        query = query.where(scope)
    row = await query.first()
    if row is None:
        raise NotFound("booking")
    return booking_view(row)


async def list_bookings(
    actor: UserView, *, slot_id: int | None = None, upcoming_only: bool = False, limit: int | None = None
) -> list[BookingView]:
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


async def _unused_code() -> str:
    while True:
        code = new_pass_code()
        if not await Booking.exists().where(Booking.code == code):
            return code


async def create_booking(actor: UserView, form: BookingForm) -> BookingView:
    """Book places for the teacher's school; one conditional UPDATE takes the capacity, so it cannot race."""
    if not actor.is_teacher or actor.school_id is None:
        raise Forbidden("role")
    people = form.students + form.chaperones
    if people < 1:
        raise BookingError("nobody")
    if not valid_id(form.slot_id):
        raise NotFound("slot")
    key = await keys.ensure_key()
    now = clock.now()
    async with write_transaction():
        slot = (
            await Slot.select(Slot.id, Slot.venue, Slot.starts_at, Slot.capacity, Slot.booked)
            .where(Slot.id == form.slot_id)
            .first()
        )
        if slot is None:
            raise NotFound("slot")
        if slot["starts_at"] <= now:
            raise BookingError("slot_started")
        taken = await (
            Slot.update({Slot.booked: Slot.booked + people})
            .where((Slot.id == form.slot_id) & (Slot.booked <= Slot.capacity - people))
            .returning(Slot.booked)
        )
        if not taken:
            fresh = await Slot.select(Slot.capacity, Slot.booked).where(Slot.id == form.slot_id).first()
            assert fresh is not None
            raise BookingError("slot_full", remaining=fresh["capacity"] - fresh["booked"], needed=people)
        code = await _unused_code()
        rows = await Booking.insert(
            Booking(
                slot=slot["id"],
                venue=slot["venue"],
                school=actor.school_id,
                teacher=actor.id,
                status="confirmed",
                students=form.students,
                chaperones=form.chaperones,
                grade=(form.grade or "").strip(),
                class_name=(form.class_name or "").strip(),
                code=code,
                created_at=now,
                updated_at=now,
            )
        ).returning(Booking.id)
        booking_id = rows[0]["id"]
        token = issue_pass(
            PassClaims(
                booking_id=booking_id, venue_id=slot["venue"], day=clock.local(slot["starts_at"]).date()
            ),
            key,
        )
        await Booking.update({Booking.qr_token: token}).where(Booking.id == booking_id)
    return await get_booking(actor, booking_id)


async def cancel_booking(actor: UserView, booking_id: int) -> BookingView:
    """Cancel and return the places; the pass stops admitting at once (check-in reads the status)."""
    current = await get_booking(actor, booking_id)
    if current.status == "cancelled":
        raise BookingError("already_cancelled")
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
        if current.status == "confirmed":
            await Slot.update({Slot.booked: Slot.booked - current.people}).where(Slot.id == current.slot_id)
    return await get_booking(actor, booking_id)
