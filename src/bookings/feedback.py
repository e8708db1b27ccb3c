"""Feedback after a visit: the teacher who booked rates it (1–5) and may comment, once per booking,
from the visit's start on, if the class was checked in. The venue's staff and the auditors read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from accounts.schemas import UserView
from bookings import services
from bookings.schemas import BookingView
from bookings.tables import Feedback
from core import clock
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_

COMMENT_MAX = 1000


class FeedbackError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "rating": (422, N_("Choose a rating from 1 (poor) to 5 (excellent).")),
        "comment_too_long": (422, N_("The comment is too long: at most {max} characters, yours has {n}.")),
        "too_early": (409, N_("Feedback opens when the visit starts, on {when}.")),
        "not_visited": (
            409,
            N_("Only a visit your class was checked in for can be rated; this booking was not."),
        ),
        "already_given": (409, N_("You already gave feedback on this visit; thank you.")),
    }


class FeedbackView(msgspec.Struct):
    id: int
    booking_id: int
    venue_id: int
    venue_name: str
    school_name: str
    teacher_name: str
    starts_at: datetime
    rating: int
    comment: str
    created_at: datetime


COLUMNS: tuple[Any, ...] = (
    Feedback.id,
    Feedback.booking.as_alias("booking_id"),
    Feedback.venue.as_alias("venue_id"),
    Feedback.venue.name.as_alias("venue_name"),
    Feedback.school.name.as_alias("school_name"),
    Feedback.teacher.display_name.as_alias("teacher_name"),
    Feedback.booking._.slot._.starts_at.as_alias("starts_at"),
    Feedback.rating,
    Feedback.comment,
    Feedback.created_at,
)


def _view(row: dict[str, Any]) -> FeedbackView:
    data = dict(row)
    data["starts_at"] = clock.local(data["starts_at"])
    data["created_at"] = clock.local(data["created_at"])
    return FeedbackView(**data)


def may_give(actor: UserView, booking: BookingView) -> bool:
    """Whether the form applies at all (the service still checks everything)."""
    return (
        actor.is_teacher
        and booking.teacher_id == actor.id
        and booking.status == "confirmed"
        and booking.admitted > 0
        and booking.starts_at <= clock.now()
    )


async def of_booking(booking_id: int) -> FeedbackView | None:
    row = await Feedback.select(*COLUMNS).where(Feedback.booking == booking_id).first()
    return _view(row) if row else None


async def give(actor: UserView, booking_id: int, rating: int, comment: str) -> FeedbackView:
    booking = await services.get_booking(actor, booking_id)  # not theirs: not found
    if not actor.is_teacher or booking.teacher_id != actor.id:
        raise Forbidden("role")
    if rating not in range(1, 6):
        raise FeedbackError("rating")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise FeedbackError("comment_too_long", max=COMMENT_MAX, n=len(comment))
    if booking.starts_at > clock.now():
        raise FeedbackError("too_early", when=booking.starts_at.strftime("%Y-%m-%d %H:%M"))
    if booking.status != "confirmed" or booking.admitted <= 0:
        raise FeedbackError("not_visited")
    async with write_transaction():
        if await Feedback.exists().where(Feedback.booking == booking_id):
            raise FeedbackError("already_given")
        await Feedback.insert(
            Feedback(
                booking=booking_id,
                venue=booking.venue_id,
                school=booking.school_id,
                teacher=actor.id,
                rating=rating,
                comment=comment,
                created_at=clock.now(),
            )
        )
    found = await of_booking(booking_id)
    assert found is not None
    return found


async def for_venue(actor: UserView, venue_id: int) -> list[FeedbackView]:
    """A venue's feedback, newest first: its own staff and the auditors."""
    if not valid_id(venue_id):
        raise NotFound("venue")
    if not (actor.is_auditor or (actor.is_staff and actor.venue_id == venue_id)):
        raise Forbidden("role")
    rows = (
        await Feedback.select(*COLUMNS)
        .where(Feedback.venue == venue_id)
        .order_by(Feedback.created_at, ascending=False)
    )
    return [_view(r) for r in rows]
