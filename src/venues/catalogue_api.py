"""GET /api/v1/programmes: the teachers' catalogue as JSON (read-only; an extension of api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from core.schemas import District, GradeBand, VenueKind
from venues import catalogue


class OpenSlotView(msgspec.Struct):
    id: int
    starts_at: datetime
    ends_at: datetime
    remaining: int
    room_name: str | None


class ProgrammeSummary(msgspec.Struct):
    id: int
    venue_id: int
    venue_name: str
    venue_kind: str
    district: str
    title: str
    description: str
    grade_bands: list[str]
    tags: list[str]
    duration_minutes: int | None
    group_min: int | None
    group_max: int | None
    students_per_adult: int | None
    preschool_students_per_adult: int | None
    approval_mode: str | None
    open_slots: int
    next_slots: list[OpenSlotView]


class ProgrammeList(msgspec.Struct):
    items: list[ProgrammeSummary]


class ProgrammeApi(Controller):
    path = "/api/v1/programmes"
    tags = ["programmes"]  # noqa: RUF012

    @get(
        "/",
        summary="Programmes across venues with their next open slots (rules: the venue's, overridden "
        "by the programme's); `people` keeps slots with room for a class of that size",
    )
    async def list(
        self,
        district: Annotated[District | None, QueryParameter(name="district")] = None,
        kind: Annotated[VenueKind | None, QueryParameter(name="kind")] = None,
        band: Annotated[GradeBand | None, QueryParameter(name="band")] = None,
        tag: Annotated[str | None, QueryParameter(name="tag", max_length=50)] = None,
        q: Annotated[str | None, QueryParameter(name="q", max_length=50)] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        people: Annotated[int | None, QueryParameter(name="people", ge=1, le=catalogue.MAX_PEOPLE)] = None,
    ) -> ProgrammeList:
        filters = catalogue.clean_filters(
            {
                "district": district,
                "kind": kind,
                "band": band,
                "tag": tag,
                "q": q,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
                "people": str(people) if people else None,
            }
        )
        items = []
        for e in await catalogue.search(filters):
            p = e.programme
            items.append(
                ProgrammeSummary(
                    id=p.id,
                    venue_id=p.venue_id,
                    venue_name=e.venue_name,
                    venue_kind=e.venue_kind,
                    district=e.venue_district,
                    title=p.title,
                    description=p.description,
                    grade_bands=p.grade_bands,
                    tags=p.tags,
                    duration_minutes=p.duration_minutes,
                    group_min=e.rules.get("group_min"),
                    group_max=e.rules.get("group_max"),
                    students_per_adult=e.rules.get("students_per_adult"),
                    preschool_students_per_adult=e.rules.get("preschool_students_per_adult"),
                    approval_mode=e.rules.get("approval_mode"),
                    open_slots=e.open_count,
                    next_slots=[
                        OpenSlotView(
                            id=s.id,
                            starts_at=s.starts_at,
                            ends_at=s.ends_at,
                            remaining=s.remaining,
                            room_name=s.room_name,
                        )
                        for s in e.slots
                    ],
                )
            )
        return ProgrammeList(items=items)
