"""Booking pages: a teacher books a visit and keeps the pass; staff see who booked and admit classes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import checkin, passes, sanctions, services, waitlist
from bookings.qr import qr_svg
from bookings.rules import Rules
from bookings.schemas import BookingForm, CheckInForm, DeclineForm, HeadcountForm
from bookings.tickets import format_code
from bookings.waitlist_pages import pass_extras, school_sanction
from core import clock
from core.errors import DomainError, Forbidden
from core.forms import parse_form
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.web import flash, form_data
from venues import services as venues
from venues.labels import GRADE_BAND_LABELS
from venues.schemas import SlotView, VenueView


def rules_summary(rules: Rules) -> list[str]:
    """The venue's rules as sentences a teacher reads before booking (only the rules it has)."""
    lines = []
    if rules.min_lead_days is not None:
        lines.append(gettext("Book at least {n} days ahead.").format(n=rules.min_lead_days))
    if rules.max_lead_days is not None:
        lines.append(gettext("Book at most {n} days ahead.").format(n=rules.max_lead_days))
    if rules.group_min is not None or rules.group_max is not None:
        lines.append(
            gettext("Groups of {lo} to {hi} people (students and adults).").format(
                lo=rules.group_min or 1, hi=rules.group_max or "—"
            )
        )
    if rules.students_per_adult:
        lines.append(gettext("One adult for every {n} students.").format(n=rules.students_per_adult))
    if rules.preschool_students_per_adult:
        lines.append(
            gettext("Pre-school: one adult for every {n} children.").format(
                n=rules.preschool_students_per_adult
            )
        )
    if rules.daily_cap is not None:
        lines.append(gettext("At most {n} group visitors a day.").format(n=rules.daily_cap))
    if rules.final_count_days is not None:
        lines.append(
            gettext("Final headcount {n} days before the visit; after that numbers can only go up.").format(
                n=rules.final_count_days
            )
        )
    if rules.free_cancel_days is not None:
        lines.append(
            gettext(
                "Cancelling is free until {n} days before the visit; "
                "a later cancel adds a strike to your school."
            ).format(n=rules.free_cancel_days)
        )
    if rules.needs_approval:
        lines.append(gettext("The venue's staff approve each booking."))
    return lines


def _book_context(
    slot: SlotView,
    venue: VenueView,
    values: dict[str, Any],
    errors: dict[str, str],
    rules: Rules | None = None,
) -> dict[str, Any]:
    return {
        "slot": slot,
        "venue": venue,
        "values": values,
        "errors": errors,
        "rules_summary": rules_summary(rules or Rules.of(venue)),
        "grade_band_options": [(band, gettext(label)) for band, label in GRADE_BAND_LABELS.items()],
    }


@get("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_page(actor: NamedDependency[UserView], slot_id: FromPath[int]) -> Template:
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context=_book_context(
            slot,
            await venues.get_venue(slot.venue_id),
            {},
            {},
            await services.slot_rules(slot.venue_id, slot.programme_id),
        )
        | {"sanction": await school_sanction(actor)},
    )


@post("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(
        BookingForm,
        {**data, "slot_id": slot_id},
        blank_as_none=("grade_band", "buses", "arrival_time", "lead_teacher_phone"),
    )
    if form is not None:
        try:
            booking = await services.create_booking(actor, form)
        except DomainError as exc:
            errors = {"__all__": exc.message()}
            if exc.code == "slot_full":
                errors["__waitlist__"] = "1"  # book.html offers the waiting list
        else:
            if booking.status == "requested":
                flash(
                    request,
                    gettext("Request sent. The venue's staff will confirm or decline it; check back here."),
                )
            else:
                flash(request, gettext("Booked. Show this pass at the door; it is also in your bookings."))
            return Redirect(f"/bookings/{booking.id}", status_code=303)
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context=_book_context(
            slot,
            await venues.get_venue(slot.venue_id),
            data,
            errors,
            await services.slot_rules(slot.venue_id, slot.programme_id),
        )
        | {"sanction": await school_sanction(actor)},
        status_code=409 if "__all__" in errors else 400,
    )


@get("/bookings", guards=[requires_sign_in], include_in_schema=False)
async def booking_list(actor: NamedDependency[UserView]) -> Template:
    items = await services.list_bookings(actor)
    standing = None
    if actor.is_teacher and actor.school_id is not None:
        standing = (await services.school_standing([actor.school_id]))[actor.school_id]
    return Template(
        "bookings/list.html",
        context={
            "bookings": items,
            "standing": standing,
            "sanction": await school_sanction(actor),
            "slot_notices": await _slot_notices(actor),
        },
    )


async def _slot_notices(actor: UserView) -> list[Any]:
    """The teacher's visits the venue cancelled, with the reason and alternatives (timetable app)."""
    from timetable.services import slot_notices

    return list(await slot_notices(actor))


async def _namelist(actor: UserView, booking: Any) -> Any:
    """The teacher's name list, when the venue requires one (privacy app)."""
    from privacy.namelists import pass_summary

    return await pass_summary(actor, booking)


async def _pass_page(
    actor: UserView, booking_id: int, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    booking = await services.get_booking(actor, booking_id)
    can_change = (
        booking.status in services.HOLDS_PLACES
        and not booking.admitted
        and booking.starts_at > clock.now()
        and ((actor.is_teacher and booking.teacher_id == actor.id) or actor.is_staff)
    )
    return Template(
        "bookings/pass.html",
        context={
            "b": booking,
            "qr_svg": qr_svg(booking.qr_token) if booking.status == "confirmed" else "",
            "code": format_code(booking.code),
            "can_change": can_change,
            "final_count_deadline": booking.final_count_until,
            "late_cancel": services.late_cancel_strikes(actor, booking),
            "standing": (await services.school_standing([booking.school_id]))[booking.school_id],
            "errors": errors or {},
            **(await pass_extras(actor, booking)),
            "namelist": await _namelist(actor, booking),
        },
        status_code=status_code,
    )


@get("/bookings/{booking_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def pass_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    return await _pass_page(actor, booking_id)


@post(
    "/bookings/{booking_id:int}/headcount",
    guards=[requires_role("teacher", "staff")],
    include_in_schema=False,
)
async def headcount_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(
        HeadcountForm,
        {"students": data.get("students"), "chaperones": data.get("chaperones")},
        blank_as_none=("students", "chaperones"),
    )
    if form is not None:
        try:
            await services.change_headcount(actor, booking_id, form)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            errors = {"__all__": exc.message()}
        else:
            flash(request, gettext("The numbers are changed."))
            return Redirect(f"/bookings/{booking_id}", status_code=303)
    return await _pass_page(actor, booking_id, errors=errors, status_code=409 if "__all__" in errors else 400)


@get("/bookings/{booking_id:int}/qr.png", guards=[requires_sign_in], include_in_schema=False)
async def pass_qr(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return passes.qr_response(booking)


@get("/bookings/{booking_id:int}/calendar.ics", guards=[requires_sign_in], include_in_schema=False)
async def pass_calendar(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return await passes.calendar_response(booking)


@post("/bookings/{booking_id:int}/cancel", guards=[requires_sign_in], include_in_schema=False)
async def cancel_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Redirect:
    try:
        await services.cancel_booking(actor, booking_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("The booking is cancelled and its places are free again."))
    return Redirect(f"/bookings/{booking_id}", status_code=303)


@get("/slots/{slot_id:int}", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def slot_bookings(actor: NamedDependency[UserView], slot_id: FromPath[int]) -> Template:
    slot = await venues.get_slot(slot_id)
    venues.require_manager(actor, slot.venue_id)
    return Template(
        "bookings/slot.html",
        context={
            "slot": slot,
            "bookings": await services.list_bookings(actor, slot_id=slot_id),
            "waitlist": await waitlist.list_entries(actor, slot_id=slot_id),
            "waitlist_state": waitlist.state_label,
        },
    )


def _staff(actor: UserView) -> None:
    if actor.venue_id is None:
        raise Forbidden("role")


@get("/staff/checkin", guards=[requires_role("staff")], include_in_schema=False)
async def checkin_page(actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    return Template("bookings/checkin.html", context={"outcome": None, "token": "", "errors": {}})


@post("/staff/checkin", guards=[requires_role("staff")], include_in_schema=False)
async def checkin_submit(request: Request[Any, Any, Any], actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    data = await form_data(request)
    form, errors = parse_form(
        CheckInForm, {**data, "device": "web"}, blank_as_none=("students", "chaperones")
    )
    if form is None:
        return Template(
            "bookings/checkin.html",
            context={"outcome": None, "token": data.get("token") or "", "errors": errors},
            status_code=400,
        )
    outcome = await checkin.check_in(actor, form)
    return Template(
        "bookings/checkin.html",
        context={"outcome": outcome, "token": form.token, "errors": {}},
        status_code=200 if outcome.result == "admitted" else outcome.status_code,
    )


async def _requests_page(
    actor: UserView, errors: dict[int, dict[str, str]] | None = None, status_code: int = 200
) -> Template:
    queue = await services.request_queue(actor)
    return Template(
        "bookings/requests.html",
        context={
            "requests": queue,
            "history": await services.school_standing(sorted({b.school_id for b in queue})),
            "sanctions": await sanctions.sanctions_of(sorted({b.school_id for b in queue})),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@get("/staff/requests", guards=[requires_role("staff")], include_in_schema=False)
async def requests_page(actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    return await _requests_page(actor)


@post("/staff/requests/{booking_id:int}/approve", guards=[requires_role("staff")], include_in_schema=False)
async def request_approve(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Redirect:
    try:
        booking = await services.approve_booking(actor, booking_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("Approved: {school} now has its pass.").format(school=booking.school_name))
    return Redirect("/staff/requests", status_code=303)


@post("/staff/requests/{booking_id:int}/decline", guards=[requires_role("staff")], include_in_schema=False)
async def request_decline(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    await services.get_booking(actor, booking_id)  # another venue's booking is 404 before the form is read
    data = await form_data(request)
    form, errors = parse_form(DeclineForm, {"reason": data.get("reason") or ""})
    if form is None:
        return await _requests_page(actor, {booking_id: errors}, status_code=400)
    try:
        booking = await services.decline_booking(actor, booking_id, form.reason)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("Declined: {school} is told your reason.").format(school=booking.school_name))
    return Redirect("/staff/requests", status_code=303)


PAGES = [
    headcount_submit,
    requests_page,
    request_approve,
    request_decline,
    book_page,
    book_submit,
    booking_list,
    pass_page,
    pass_qr,
    pass_calendar,
    cancel_submit,
    slot_bookings,
    checkin_page,
    checkin_submit,
]
