"""Teachers find a visit: the programme catalogue with filters, a programme's page, and availability
calendars (month and week) of a venue or a programme for the class size the teacher gives.

Here rather than in venues because a programme's page states its booking rules in words
(bookings.pages.rules_summary over bookings.rules.effective_rules); the queries are venues.catalogue's.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from bookings.pages import rules_summary
from bookings.rules import effective_rules
from core import clock
from core.guards import requires_sign_in
from venues import catalogue, programmes
from venues import services as venues
from venues.labels import GRADE_BAND_LABELS
from venues.schemas import RULE_FIELDS

DEFAULT_PEOPLE = 40
PAGE_SIZE = 12  # programmes per catalogue page: a phone screen's worth of scrolling, and a fast page


@get("/programmes", guards=[requires_sign_in], include_in_schema=False)
async def catalogue_page(request: Request[Any, Any, Any]) -> Template:
    raw = {
        k: request.query_params.get(k)
        for k in ("district", "kind", "band", "tag", "q", "from", "to", "people")
    }
    filters = catalogue.clean_filters(raw)
    page_text = str(request.query_params.get("page") or "1")
    page = min(int(page_text), 10_000) if page_text.isdigit() and int(page_text) >= 1 else 1
    entries, total = await catalogue.search_page(filters, page, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # past the end (a filter changed): the last page
        page = pages
        entries, total = await catalogue.search_page(filters, page, PAGE_SIZE)
    # The other filters, for the page links.
    keep = urlencode({k: v for k, v in raw.items() if v})
    return Template(
        "venues/catalogue.html",
        context={
            "entries": entries,
            "total": total,
            "page": page,
            "pages": pages,
            "first_shown": (page - 1) * PAGE_SIZE + 1,
            "keep": keep,
            "filters": filters,
            "tags": await catalogue.known_tags(),
            "bands": list(GRADE_BAND_LABELS),
            "today": clock.today(),
        },
    )


@get("/programmes/{programme_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def programme_page(request: Request[Any, Any, Any], programme_id: FromPath[int]) -> Template:
    people = catalogue.clean_filters({"people": request.query_params.get("people")}).people
    entry = await catalogue.programme_entry(programme_id, people=people)
    files = (await programmes.list_files([programme_id])).get(programme_id, [])
    user = request.scope.get("user")
    can_manage = user is not None and venues.can_manage(user, entry.programme.venue_id)
    if entry.programme.retired_at is not None and not can_manage:
        raise programmes.ProgrammeError("no_programme")
    return Template(
        "venues/programme_detail.html",
        context={
            "e": entry,
            "p": entry.programme,
            "photos": [f for f in files if f.kind == "photo"],
            "pre_visit": [f for f in files if f.kind == "pre_visit"],
            "post_visit": [f for f in files if f.kind == "post_visit"],
            "rules_summary": rules_summary(effective_rules(entry.rules)),
            "can_manage": can_manage,
            "people": people,
        },
    )


def _calendar_params(view: str | None, on: str | None, people: str | None) -> tuple[str, date, int]:
    view = view if view in ("month", "week") else "month"
    try:
        anchor = date.fromisoformat(on or "")
    except ValueError:
        anchor = clock.today()
    if not clock.in_range(anchor):
        anchor = clock.today()
    text = (people or "").strip()
    size = int(text) if text.isdigit() and 1 <= int(text) <= catalogue.MAX_PEOPLE else DEFAULT_PEOPLE
    return view, anchor, size


def _steps(view: str, anchor: date) -> tuple[date, date]:
    if view == "week":
        return anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return previous, following


async def _calendar(
    *,
    venue_id: int,
    programme: programmes.ProgrammeView | None,
    view: str,
    anchor: date,
    people: int,
    base: str,
) -> Template:
    venue = await venues.get_venue(venue_id)
    venue_rules = {f: getattr(venue, f) for f in RULE_FIELDS}
    days = await catalogue.calendar(
        venue_id=venue_id,
        programme_id=programme.id if programme else None,
        view=view,
        anchor=anchor,
        people=people,
        venue_rules=venue_rules,
    )
    previous, following = _steps(view, anchor)
    return Template(
        "venues/calendar.html",
        context={
            "venue": venue,
            "programme": programme,
            "days": days,
            "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
            "view": view,
            "anchor": anchor,
            "people": people,
            "base": base,
            "previous": previous,
            "following": following,
            "today": clock.today(),
        },
    )


@get("/venues/{venue_id:int}/calendar", guards=[requires_sign_in], include_in_schema=False)
async def venue_calendar(
    venue_id: FromPath[int],
    view: Annotated[str | None, QueryParameter(name="view", max_length=8)] = None,
    on: Annotated[str | None, QueryParameter(name="date", max_length=10)] = None,
    people: Annotated[str | None, QueryParameter(name="people", max_length=6)] = None,
) -> Template:
    view, anchor, size = _calendar_params(view, on, people)
    return await _calendar(
        venue_id=venue_id,
        programme=None,
        view=view,
        anchor=anchor,
        people=size,
        base=f"/venues/{venue_id}/calendar",
    )


@get("/programmes/{programme_id:int}/calendar", guards=[requires_sign_in], include_in_schema=False)
async def programme_calendar(
    request: Request[Any, Any, Any],
    programme_id: FromPath[int],
    view: Annotated[str | None, QueryParameter(name="view", max_length=8)] = None,
    on: Annotated[str | None, QueryParameter(name="date", max_length=10)] = None,
    people: Annotated[str | None, QueryParameter(name="people", max_length=6)] = None,
) -> Template:
    programme = await programmes.get_programme(programme_id)
    user = request.scope.get("user")
    if programme.retired_at is not None and not (user and venues.can_manage(user, programme.venue_id)):
        raise programmes.ProgrammeError("no_programme")
    view, anchor, size = _calendar_params(view, on, people)
    return await _calendar(
        venue_id=programme.venue_id,
        programme=programme,
        view=view,
        anchor=anchor,
        people=size,
        base=f"/programmes/{programme_id}/calendar",
    )


CATALOGUE_PAGES = [catalogue_page, programme_page, venue_calendar, programme_calendar]
