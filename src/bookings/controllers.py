"""Bookings API: booking, reading and cancelling visits, the pass as QR and calendar, and check-in."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath

from accounts.schemas import UserView
from bookings import checkin, passes, reversal, services
from bookings.schemas import (
    BookingForm,
    BookingView,
    CheckInForm,
    CheckInList,
    CheckInOutcome,
    CheckInView,
    DeclineForm,
    HeadcountForm,
    ReverseForm,
)
from core.guards import requires_role
from core.jsonbody import strict_json_body


async def _decidable_booking(request: Request[Any, Any, Any]) -> None:
    """Permission before validation: another venue's booking is 404 before its body is read."""
    await services.get_booking(request.scope["user"], request.path_params["booking_id"])
    await strict_json_body(request)


async def _reversible_checkin(request: Request[Any, Any, Any]) -> None:
    """Permission before validation: who may reverse is decided before the reason is read."""
    await reversal.require_reverser(request.scope["user"], request.path_params["checkin_id"])
    await strict_json_body(request)


class BookingList(msgspec.Struct):
    items: list[BookingView]


class BookingApi(Controller):
    path = "/api/v1/bookings"
    before_request = staticmethod(strict_json_body)
    tags = ["bookings"]  # noqa: RUF012

    @post("/", summary="Book a slot for a class (teacher)", guards=[requires_role("teacher")])
    async def create(
        self, actor: NamedDependency[UserView], data: Annotated[BookingForm, Body()]
    ) -> BookingView:
        return await services.create_booking(actor, data)

    @get("/", summary="Bookings the caller may see")
    async def list(self, actor: NamedDependency[UserView]) -> BookingList:
        return BookingList(items=await services.list_bookings(actor))

    @get("/{booking_id:int}", summary="One booking")
    async def detail(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> BookingView:
        return await services.get_booking(actor, booking_id)

    @patch(
        "/{booking_id:int}",
        summary="Change a booking's numbers (its teacher, or staff of its venue), within the venue's rules",
        guards=[requires_role("teacher", "staff")],
    )
    async def change(
        self,
        actor: NamedDependency[UserView],
        booking_id: FromPath[int],
        data: Annotated[HeadcountForm, Body()],
    ) -> BookingView:
        return await services.change_headcount(actor, booking_id, data)

    @post("/{booking_id:int}/cancel", status_code=200, summary="Cancel a booking")
    async def cancel(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> BookingView:
        return await services.cancel_booking(actor, booking_id)

    @post(
        "/{booking_id:int}/approve",
        status_code=200,
        summary="Approve a requested booking (staff of its venue)",
        guards=[requires_role("staff")],
    )
    async def approve(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> BookingView:
        return await services.approve_booking(actor, booking_id)

    @post(
        "/{booking_id:int}/decline",
        status_code=200,
        summary="Decline a requested booking with a reason (staff of its venue); the places return",
        guards=[requires_role("staff")],
        before_request=_decidable_booking,
    )
    async def decline(
        self,
        actor: NamedDependency[UserView],
        booking_id: FromPath[int],
        data: Annotated[DeclineForm, Body()],
    ) -> BookingView:
        return await services.decline_booking(actor, booking_id, data.reason)

    @get(
        "/{booking_id:int}/checkins",
        summary="Every scan of a booking: admitted, denied and reversed (staff of its venue, auditors)",
        guards=[requires_role("staff", "auditor")],
    )
    async def checkins(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> CheckInList:
        return CheckInList(items=await reversal.booking_checkins(actor, booking_id))

    @get("/{booking_id:int}/qr.png", summary="The pass as a QR code", media_type="image/png")
    async def qr(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
        booking = await services.get_booking(actor, booking_id)
        return passes.qr_response(booking)

    @get(
        "/{booking_id:int}/calendar.ics", summary="The visit as an iCalendar file", media_type="text/calendar"
    )
    async def calendar(self, actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
        booking = await services.get_booking(actor, booking_id)
        return await passes.calendar_response(booking)


class CheckInApi(Controller):
    path = "/api/v1/checkins"
    before_request = staticmethod(strict_json_body)
    guards = [requires_role("staff")]  # noqa: RUF012
    tags = ["check-in"]  # noqa: RUF012

    @post("/", summary="Scan a pass at the door (staff of the venue)")
    async def create(
        self, actor: NamedDependency[UserView], data: Annotated[CheckInForm, Body()]
    ) -> Response[CheckInOutcome]:
        outcome = await checkin.check_in(actor, data)
        return Response(outcome, status_code=outcome.status_code)

    @post(
        "/{checkin_id:int}/reverse",
        status_code=200,
        summary="Reverse an admission with a reason (a supervisor of the venue); its people are given back",
        before_request=_reversible_checkin,
    )
    async def reverse(
        self,
        actor: NamedDependency[UserView],
        checkin_id: FromPath[int],
        data: Annotated[ReverseForm, Body()],
    ) -> CheckInView:
        return await reversal.reverse_checkin(actor, checkin_id, data.reason)
