"""A supervisor reverses an admission with a reason; every scan of a booking is its audit trail.

The reversal marks the check-in row and gives its people back in one write transaction. The row is
claimed with a conditional UPDATE (`reversed_at IS NULL`), so of two reversals of the same row at
once only one changes anything; the booking's admitted counts fall with a conditional UPDATE that
never takes them below zero.
"""

from __future__ import annotations

from typing import Any, ClassVar

import auditlog
from accounts.schemas import UserView
from bookings import services
from bookings.schemas import CheckInView
from bookings.tables import Booking, CheckIn
from core import clock
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_
from ledger import chain

# A short label for each check-in result (api.md's codes), for the audit trail.
RESULT_LABELS: dict[str, str] = {
    "admitted": N_("Admitted"),
    "invalid": N_("Not a pass"),
    "wrong_venue": N_("Another venue's pass"),
    "cancelled": N_("Cancelled booking"),
    "not_confirmed": N_("Not confirmed"),
    "wrong_day": N_("Wrong day"),
    "outside_window": N_("Outside the arrival window"),
    "already_checked_in": N_("Already checked in"),
    "too_many": N_("More people than booked"),
    "too_few_adults": N_("Too few adults"),
}


class ReversalError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "supervisor": (403, N_("Only a supervisor of this venue can reverse a check-in.")),
        "not_admission": (409, N_("Only an admission can be reversed; this scan admitted nobody.")),
        "already_reversed": (409, N_("This check-in was already reversed.")),
    }


COLUMNS = (
    CheckIn.id,
    CheckIn.booking,
    CheckIn.venue,
    CheckIn.result,
    CheckIn.students,
    CheckIn.chaperones,
    CheckIn.staff,
    CheckIn.staff.display_name.as_alias("staff_name"),
    CheckIn.device,
    CheckIn.offline,
    CheckIn.needs_review,
    CheckIn.scanned_at,
    CheckIn.created_at,
    CheckIn.reversed_at,
    CheckIn.reversed_by,
    CheckIn.reversed_by.display_name.as_alias("reversed_by_name"),
    CheckIn.reversal_reason,
)


def checkin_view(row: dict[str, Any]) -> CheckInView:
    return CheckInView(
        id=row["id"],
        booking_id=row["booking"],
        venue_id=row["venue"],
        result=row["result"],
        students=row["students"],
        chaperones=row["chaperones"],
        staff_id=row["staff"],
        staff_name=row["staff_name"],
        device=row["device"],
        offline=bool(row["offline"]),
        needs_review=bool(row["needs_review"]),
        scanned_at=clock.as_aware(row["scanned_at"]) if row["scanned_at"] else None,
        created_at=clock.as_aware(row["created_at"]),
        reversed=row["reversed_at"] is not None,
        reversed_at=clock.as_aware(row["reversed_at"]) if row["reversed_at"] else None,
        reversed_by_id=row["reversed_by"],
        reversed_by_name=row["reversed_by_name"],
        reversal_reason=row["reversal_reason"] or "",
    )


async def booking_checkins(actor: UserView, booking_id: int) -> list[CheckInView]:
    """Every scan of a booking, oldest first: staff of its venue and auditors (others: 403/404)."""
    if not (actor.is_staff or actor.is_auditor):
        raise Forbidden("role")
    if not valid_id(booking_id):
        raise NotFound("booking")
    query = Booking.exists().where(Booking.id == booking_id)
    scope = services.visible_to(actor)
    if scope is not None:
        query = query.where(scope)
    if not await query:
        raise NotFound("booking")
    rows = await CheckIn.select(*COLUMNS).where(CheckIn.booking == booking_id).order_by(CheckIn.id)
    return [checkin_view(r) for r in rows]


async def require_reverser(actor: UserView, checkin_id: int) -> None:
    """Whether the actor may reverse this check-in, decided before the reason is read: another venue's
    check-in is 404, a door worker's attempt 403 (reverse_checkin checks it all again when it writes)."""
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    own = CheckIn.exists().where((CheckIn.id == checkin_id) & (CheckIn.venue == actor.venue_id))
    if not valid_id(checkin_id) or not await own:
        raise NotFound("checkin")
    if actor.venue_role != "supervisor":
        raise ReversalError("supervisor")


async def reverse_checkin(actor: UserView, checkin_id: int, reason: str) -> CheckInView:
    """Reverse an admission at the actor's venue (supervisors only) and give its people back."""
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    if not valid_id(checkin_id):
        raise NotFound("checkin")
    reason = reason.strip()
    async with write_transaction():
        row = (
            await CheckIn.select(CheckIn.id, CheckIn.booking, CheckIn.result, CheckIn.reversed_at)
            .where((CheckIn.id == checkin_id) & (CheckIn.venue == actor.venue_id))
            .first()
        )
        if row is None:
            raise NotFound("checkin")
        if actor.venue_role != "supervisor":
            raise ReversalError("supervisor")
        if row["result"] != "admitted" or row["booking"] is None:
            raise ReversalError("not_admission")
        now = clock.now()
        claimed = await (
            CheckIn.update(
                {
                    CheckIn.reversed_at: now,
                    CheckIn.reversed_by: actor.id,
                    CheckIn.reversal_reason: reason,
                }
            )
            .where(
                (CheckIn.id == checkin_id) & (CheckIn.result == "admitted") & CheckIn.reversed_at.is_null()
            )
            .returning(CheckIn.students, CheckIn.chaperones)
        )
        if not claimed:
            raise ReversalError("already_reversed")
        students, chaperones = claimed[0]["students"], claimed[0]["chaperones"]
        await _give_back(row["booking"], students, chaperones, now)
        # The correction is a new record in the venue's chain, pointing at the admission it reverses.
        await chain.append(
            actor.venue_id,
            "reversal",
            checkin_id,
            chain.reversal_record(checkin_id, actor.id, now, reason, students, chaperones),
            now,
        )
        fresh = await CheckIn.select(*COLUMNS).where(CheckIn.id == checkin_id).first()
        await auditlog.record(
            actor,
            "checkin.reverse",
            "checkin",
            checkin_id,
            before={"reversed": False},
            after={
                "reversed": True,
                "booking_id": row["booking"],
                "students": students,
                "chaperones": chaperones,
            },
            venue_id=actor.venue_id,
            reason=reason,
        )
    assert fresh is not None
    return checkin_view(fresh)


async def _give_back(booking_id: int, students: int, chaperones: int, now: Any) -> None:
    """Subtract the reversed counts from the booking, never below zero (conditional UPDATEs)."""
    done = await (
        Booking.update(
            {
                Booking.admitted_students: Booking.admitted_students - students,
                Booking.admitted_chaperones: Booking.admitted_chaperones - chaperones,
                Booking.updated_at: now,
            }
        )
        .where(
            (Booking.id == booking_id)
            & (Booking.admitted_students >= students)
            & (Booking.admitted_chaperones >= chaperones)
        )
        .returning(Booking.id)
    )
    if done:
        return
    # The counts are already lower than this admission (they should not be): floor each at zero.
    if students:
        await Booking.update({Booking.admitted_students: 0, Booking.updated_at: now}).where(
            (Booking.id == booking_id) & (Booking.admitted_students < students)
        )
        await Booking.update(
            {Booking.admitted_students: Booking.admitted_students - students, Booking.updated_at: now}
        ).where((Booking.id == booking_id) & (Booking.admitted_students >= students))
    if chaperones:
        await Booking.update({Booking.admitted_chaperones: 0, Booking.updated_at: now}).where(
            (Booking.id == booking_id) & (Booking.admitted_chaperones < chaperones)
        )
        await Booking.update(
            {Booking.admitted_chaperones: Booking.admitted_chaperones - chaperones, Booking.updated_at: now}
        ).where((Booking.id == booking_id) & (Booking.admitted_chaperones >= chaperones))
