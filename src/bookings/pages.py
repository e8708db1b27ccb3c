"""Booking pages: a teacher books a visit and keeps the pass; staff see who booked and admit classes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import checkin, services
from bookings.controllers import calendar_for
from bookings.qr import qr_png, qr_svg
from bookings.schemas import BookingForm, CheckInForm
from bookings.tickets import format_code
from core.errors import DomainError, Forbidden
from core.forms import parse_form
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.web import flash, form_data
from venues import services as venues


@get("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_page(slot_id: FromPath[int]) -> Template:
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context={"slot": slot, "venue": await venues.get_venue(slot.venue_id), "values": {}, "errors": {}},
    )


@post("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(BookingForm, {**data, "slot_id": slot_id})
    if form is not None:
        try:
            booking = await services.create_booking(actor, form)
        except DomainError as exc:
            errors = {"__all__": exc.message()}
        else:
            flash(request, gettext("Booked. Show this pass at the door; it is also in your bookings."))
            return Redirect(f"/bookings/{booking.id}", status_code=303)
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context={
            "slot": slot,
            "venue": await venues.get_venue(slot.venue_id),
            "values": data,
            "errors": errors,
        },
        status_code=409 if "__all__" in errors else 400,
    )


@get("/bookings", guards=[requires_sign_in], include_in_schema=False)
async def booking_list(actor: NamedDependency[UserView]) -> Template:
    items = await services.list_bookings(actor)
    return Template("bookings/list.html", context={"bookings": items})


@get("/bookings/{booking_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def pass_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    booking = await services.get_booking(actor, booking_id)
    return Template(
        "bookings/pass.html",
        context={
            "b": booking,
            "qr_svg": qr_svg(booking.qr_token) if booking.status == "confirmed" else "",
            "code": format_code(booking.code),
        },
    )


@get("/bookings/{booking_id:int}/qr.png", guards=[requires_sign_in], include_in_schema=False)
async def pass_qr(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return Response(qr_png(booking.qr_token), media_type="image/png", headers={"Cache-Control": "private"})


@get("/bookings/{booking_id:int}/calendar.ics", guards=[requires_sign_in], include_in_schema=False)
async def pass_calendar(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return Response(
        calendar_for(booking),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kepu-booking-{booking.id}.ics"'},
    )


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
        context={"slot": slot, "bookings": await services.list_bookings(actor, slot_id=slot_id)},
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


PAGES = [
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
