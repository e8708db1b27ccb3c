"""Venues API: venues (auditors register, everyone signed in reads) and their slots."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import Body, FromPath, QueryParameter

from accounts.schemas import UserView
from core.guards import requires_role
from core.jsonbody import strict_json_body
from core.schemas import District, VenueKind
from core.timeparse import parse_date_or_instant
from venues import services
from venues.schemas import BlackoutForm, BlackoutView, SlotForm, SlotView, VenueForm, VenueUpdate, VenueView


async def _manager_first(request: Request[Any, Any, Any]) -> None:
    """Permission before validation: whether the caller manages the venue is decided before its body."""
    venue_id = request.path_params["venue_id"]
    await services.get_venue(venue_id)
    services.require_manager(request.scope["user"], venue_id)
    await strict_json_body(request)


class VenueList(msgspec.Struct):
    items: list[VenueView]


class SlotList(msgspec.Struct):
    items: list[SlotView]


class BlackoutList(msgspec.Struct):
    items: list[BlackoutView]


class VenueApi(Controller):
    path = "/api/v1/venues"
    before_request = staticmethod(strict_json_body)
    tags = ["venues"]  # noqa: RUF012

    @post("/", summary="Register a venue (auditor)", guards=[requires_role("auditor")])
    async def create(self, actor: NamedDependency[UserView], data: Annotated[VenueForm, Body()]) -> VenueView:
        return await services.create_venue(actor, data)

    @get("/", summary="List venues")
    async def list(
        self,
        district: Annotated[District | None, QueryParameter(name="district")] = None,
        kind: Annotated[VenueKind | None, QueryParameter(name="kind")] = None,
    ) -> VenueList:
        return VenueList(items=await services.list_venues(district=district, kind=kind))

    @get("/{venue_id:int}", summary="One venue")
    async def detail(self, venue_id: FromPath[int]) -> VenueView:
        return await services.get_venue(venue_id)

    @patch(
        "/{venue_id:int}",
        summary="Change a venue's details or rules (auditor, or its staff)",
        guards=[requires_role("staff", "auditor")],
        before_request=_manager_first,
    )
    async def update(
        self, actor: NamedDependency[UserView], venue_id: FromPath[int], data: Annotated[VenueUpdate, Body()]
    ) -> VenueView:
        return await services.update_venue(actor, venue_id, data)

    @get("/{venue_id:int}/blackouts", summary="Days on which the venue takes no group bookings")
    async def list_blackouts(self, venue_id: FromPath[int]) -> BlackoutList:
        return BlackoutList(items=await services.list_blackouts(venue_id))

    @post(
        "/{venue_id:int}/blackouts",
        summary="Add a blackout day, or change its reason (staff of the venue, or auditor)",
        guards=[requires_role("staff", "auditor")],
        before_request=_manager_first,
    )
    async def set_blackout(
        self, actor: NamedDependency[UserView], venue_id: FromPath[int], data: Annotated[BlackoutForm, Body()]
    ) -> BlackoutView:
        return await services.set_blackout(actor, venue_id, data)

    @delete(
        "/{venue_id:int}/blackouts/{day:date}",
        summary="Take a blackout day away (staff of the venue, or auditor)",
        guards=[requires_role("staff", "auditor")],
    )
    async def remove_blackout(
        self, actor: NamedDependency[UserView], venue_id: FromPath[int], day: FromPath[date]
    ) -> None:
        await services.remove_blackout(actor, venue_id, day)

    @post(
        "/{venue_id:int}/slots",
        summary="Publish a slot (staff of the venue, or auditor)",
        guards=[requires_role("staff", "auditor")],
        before_request=_manager_first,
    )
    async def create_slot(
        self, actor: NamedDependency[UserView], venue_id: FromPath[int], data: Annotated[SlotForm, Body()]
    ) -> SlotView:
        return await services.create_slot(actor, venue_id, data)

    @get("/{venue_id:int}/slots", summary="Slots of a venue starting in [from, to)")
    async def list_slots(
        self,
        venue_id: FromPath[int],
        starts_from: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
        starts_before: Annotated[str | None, QueryParameter(name="to", max_length=40)] = None,
    ) -> SlotList:
        try:
            lo = parse_date_or_instant(starts_from) if starts_from else None
            hi = parse_date_or_instant(starts_before) if starts_before else None
        except ValueError as exc:
            raise ValidationException(detail=str(exc)) from None
        return SlotList(items=await services.list_slots(venue_id, starts_from=lo, starts_before=hi))


class SlotApi(Controller):
    path = "/api/v1/slots"
    tags = ["slots"]  # noqa: RUF012

    @get("/{slot_id:int}", summary="One slot, with booked and remaining places")
    async def detail(self, slot_id: FromPath[int]) -> SlotView:
        return await services.get_slot(slot_id)
