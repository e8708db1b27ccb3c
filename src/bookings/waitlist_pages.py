"""Pages of the waiting list (teachers) and of feedback after a visit (teachers, venue staff, auditors)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import feedback, sanctions, services, waitlist
from bookings.waitlist import WaitlistForm
from core.errors import DomainError
from core.forms import parse_form
from core.guards import requires_role
from core.i18n import gettext
from core.web import flash, form_data
from venues import services as venues
from venues.labels import GRADE_BAND_LABELS


async def school_sanction(actor: UserView) -> sanctions.Sanction | None:
    """The teacher's school under the strike sanctions, for the booking pages."""
    if not actor.is_teacher or actor.school_id is None:
        return None
    return await sanctions.sanction_of(actor.school_id)


async def _join_page(
    actor: UserView, slot_id: int, values: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Template:
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/waitlist_join.html",
        context={
            "slot": slot,
            "venue": await venues.get_venue(slot.venue_id),
            "values": values,
            "errors": errors,
            "sanction": await school_sanction(actor),
            "hold_hours": waitlist.hold_hours(),
            "grade_band_options": [(band, gettext(label)) for band, label in GRADE_BAND_LABELS.items()],
        },
        status_code=status_code,
    )


@get("/slots/{slot_id:int}/waitlist", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_join_page(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template:
    values = {
        k: request.query_params.get(k) for k in ("students", "chaperones") if request.query_params.get(k)
    }
    return await _join_page(actor, slot_id, values, {})


@post("/slots/{slot_id:int}/waitlist", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_join_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    fields = ("students", "chaperones", "flexibility", "grade", "class_name", "grade_band")
    form, errors = parse_form(
        WaitlistForm,
        {**{k: data.get(k) for k in fields if data.get(k) is not None}, "slot_id": slot_id},
        blank_as_none=("grade_band", "grade", "class_name"),
    )
    if form is not None:
        try:
            entry = await waitlist.join(actor, form)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            errors = {"__all__": exc.message()}
        else:
            flash(request, gettext("You are on the waiting list. We will tell you when places free up."))
            return Redirect(f"/waitlist/{entry.id}", status_code=303)
    return await _join_page(actor, slot_id, data, errors, status_code=409 if "__all__" in errors else 400)


@get("/waitlist", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_list(actor: NamedDependency[UserView]) -> Template:
    entries = await waitlist.list_entries(actor)
    return Template(
        "bookings/waitlist_list.html",
        context={"entries": list(reversed(entries)), "state_label": waitlist.state_label},
    )


@get("/waitlist/{entry_id:int}", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_entry(actor: NamedDependency[UserView], entry_id: FromPath[int]) -> Template:
    entry = await waitlist.get_entry(actor, entry_id)
    return Template("bookings/waitlist_entry.html", context={"e": entry, "state_label": waitlist.state_label})


async def _answer(request: Request[Any, Any, Any], entry_id: int, action: Any, done: str) -> Redirect:
    try:
        await action
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, done)
    return Redirect(f"/waitlist/{entry_id}", status_code=303)


@post("/waitlist/{entry_id:int}/accept", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_accept(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], entry_id: FromPath[int]
) -> Redirect:
    try:
        booking_id = await waitlist.accept(actor, entry_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
        return Redirect(f"/waitlist/{entry_id}", status_code=303)
    flash(request, gettext("Booked from the waiting list. Show this pass at the door."))
    return Redirect(f"/bookings/{booking_id}", status_code=303)


@post("/waitlist/{entry_id:int}/decline", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_decline(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], entry_id: FromPath[int]
) -> Redirect:
    return await _answer(
        request,
        entry_id,
        waitlist.decline(actor, entry_id),
        gettext("You declined the places; they go to the next class on the list."),
    )


@post("/waitlist/{entry_id:int}/leave", guards=[requires_role("teacher")], include_in_schema=False)
async def waitlist_leave(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], entry_id: FromPath[int]
) -> Redirect:
    return await _answer(
        request, entry_id, waitlist.leave(actor, entry_id), gettext("You have left the waiting list.")
    )


async def _feedback_page(
    actor: UserView, booking_id: int, values: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Template:
    booking = await services.get_booking(actor, booking_id)
    return Template(
        "bookings/feedback_form.html",
        context={
            "b": booking,
            "given": await feedback.of_booking(booking_id),
            "may_give": feedback.may_give(actor, booking),
            "values": values,
            "errors": errors,
        },
        status_code=status_code,
    )


@get("/bookings/{booking_id:int}/feedback", guards=[requires_role("teacher")], include_in_schema=False)
async def feedback_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    return await _feedback_page(actor, booking_id, {}, {})


@post("/bookings/{booking_id:int}/feedback", guards=[requires_role("teacher")], include_in_schema=False)
async def feedback_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    raw = str(data.get("rating") or "").strip()
    errors: dict[str, str] = {}
    rating = int(raw) if raw.isdigit() and len(raw) == 1 else 0
    if rating not in range(1, 6):
        errors["rating"] = gettext("Choose a rating from 1 (poor) to 5 (excellent).")
    else:
        try:
            await feedback.give(actor, booking_id, rating, str(data.get("comment") or ""))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            errors = {"__all__": exc.message()}
        else:
            flash(request, gettext("Thank you: the venue will read your feedback."))
            return Redirect(f"/bookings/{booking_id}", status_code=303)
    return await _feedback_page(
        actor, booking_id, data, errors, status_code=409 if "__all__" in errors else 400
    )


async def _feedback_list(actor: UserView, venue_id: int) -> Template:
    items = await feedback.for_venue(actor, venue_id)
    venue = await venues.get_venue(venue_id)
    average = round(sum(f.rating for f in items) / len(items), 1) if items else None
    return Template(
        "bookings/feedback_list.html", context={"venue": venue, "items": items, "average": average}
    )


@get("/staff/feedback", guards=[requires_role("staff")], include_in_schema=False)
async def staff_feedback(actor: NamedDependency[UserView]) -> Template:
    return await _feedback_list(actor, actor.venue_id or 0)


@get("/audit/venues/{venue_id:int}/feedback", guards=[requires_role("auditor")], include_in_schema=False)
async def audit_feedback(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    return await _feedback_list(actor, venue_id)


WAITLIST_PAGES = [
    waitlist_join_page,
    waitlist_join_submit,
    waitlist_list,
    waitlist_entry,
    waitlist_accept,
    waitlist_decline,
    waitlist_leave,
    feedback_page,
    feedback_submit,
    staff_feedback,
    audit_feedback,
]
