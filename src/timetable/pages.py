"""Timetable pages: recurring series (preview, create, edit, cancel), one slot's change or cancellation,
opening hours with closures and youth days, the public holidays (auditors), and the door's walk-ins."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core import clock
from core.errors import DomainError, Forbidden
from core.guards import requires_role
from core.i18n import N_, gettext
from core.web import flash, form_data
from timetable import services
from timetable.recurrence import WEEKDAYS, RuleError, check_times, parse_dates, weekly_rule
from timetable.services import WEEKDAY_NAMES, SeriesDraft
from venues import services as venues
from venues.tables import Programme, Room

MANAGERS = [requires_role("staff", "auditor")]
SKIP_LABELS = {
    "exdate": N_("Left out"),
    "holiday": N_("Public holiday"),
    "blackout": N_("Blackout day"),
    "closure": N_("Closed"),
    "past": N_("In the past"),
}


def _text(data: dict[str, Any], key: str, limit: int = 200) -> str:
    value = data.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()[:limit]


def _int(data: dict[str, Any], key: str) -> int | None:
    text = _text(data, key, 12)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _day(data: dict[str, Any], key: str) -> date | None:
    try:
        return date.fromisoformat(_text(data, key, 10))
    except ValueError:
        return None


async def _choices(venue_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    programmes = await Programme.select(Programme.id, Programme.title).where(
        (Programme.venue == venue_id) & Programme.retired_at.is_null()
    )
    rooms = await Room.select(Room.id, Room.name).where((Room.venue == venue_id) & Room.retired_at.is_null())
    return (
        [(str(p["id"]), p["title"]) for p in programmes],
        [(str(r["id"]), r["name"]) for r in rooms],
    )


def series_defaults() -> dict[str, Any]:
    first = clock.today() + timedelta(days=7)
    return {
        "title": "",
        "kind": "school_visit",
        "capacity": "",
        "start": "09:30",
        "end": "11:00",
        "first_day": first.isoformat(),
        "last_day": (first + timedelta(days=90)).isoformat(),
        "wd_TU": "on",
        "wd_TH": "on",
        "interval": "1",
        "exdates": "",
        "skip_holidays": "on",
        "rrule": "",
    }


def _draft(
    data: dict[str, Any], *, first_day: date | None = None
) -> tuple[SeriesDraft | None, dict[str, str]]:
    """The series a form asks for, or the problems per field."""
    errors: dict[str, str] = {}
    capacity = _int(data, "capacity")
    if capacity is None or not 1 <= capacity <= 10000:
        errors["capacity"] = gettext("Enter a capacity between 1 and 10000 places.")
    try:
        start, end = check_times(_text(data, "start", 8), _text(data, "end", 8))
    except RuleError as exc:
        errors["start"] = exc.message()
        start, end = time(9, 30), time(11, 0)
    first = first_day or _day(data, "first_day")
    if first is None:
        errors["first_day"] = gettext("Enter a date.")
    try:
        exdates = parse_dates(_text(data, "exdates", 2000))
    except RuleError as exc:
        errors["exdates"] = exc.message()
        exdates = []
    rule = _text(data, "rrule", 500)
    if not rule and first_day is None:
        last = _day(data, "last_day")
        interval = _int(data, "interval") or 1
        if last is None:
            errors["last_day"] = gettext("Enter a date.")
        elif first is not None and last < first:
            errors["last_day"] = RuleError("range").message()
        elif not 1 <= interval <= 52:
            errors["interval"] = gettext("Enter a whole number of at most {n}.").format(n=52)
        else:
            try:
                rule = weekly_rule([d for d in WEEKDAYS if data.get(f"wd_{d}")], last, interval)
            except RuleError as exc:
                errors["weekdays"] = exc.message()
    elif not rule:
        errors["rrule"] = RuleError("empty").message()
    programme = _int(data, "programme_id")
    room = _int(data, "room_id")
    if errors or first is None or capacity is None:
        return None, errors
    return (
        SeriesDraft(
            rule=rule,
            first_day=first,
            start=start,
            end=end,
            capacity=capacity,
            title=_text(data, "title"),
            kind=_text(data, "kind", 16) or "school_visit",
            exdates=exdates,
            skip_holidays=bool(data.get("skip_holidays")),
            programme_id=programme,
            room_id=room,
        ),
        {},
    )


def _error_field(exc: DomainError) -> str:
    if isinstance(exc, RuleError):
        return {"times": "start", "exdate": "exdates", "weekdays": "weekdays"}.get(exc.code, "rrule")
    return {
        "capacity": "capacity",
        "programme": "programme_id",
        "room": "room_id",
        "past_first_day": "first_day",
        "kind": "kind",
    }.get(exc.code, "rrule")


async def _series_page(
    actor: UserView,
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    preview: services.Preview | None = None,
    status_code: int = 200,
) -> Template:
    venue = await venues.get_venue(venue_id)
    programmes, rooms = await _choices(venue_id)
    return Template(
        "timetable/series_list.html",
        context={
            "venue": venue,
            "series": await services.list_series(actor, venue_id),
            "values": values if values is not None else series_defaults(),
            "errors": errors or {},
            "preview": preview,
            "programmes": programmes,
            "rooms": rooms,
            "weekdays": list(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)),
            "skip_labels": SKIP_LABELS,
        },
        status_code=status_code,
    )


@get("/venues/{venue_id:int}/series", guards=MANAGERS, include_in_schema=False)
async def series_list(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    return await _series_page(actor, venue_id)


@post("/venues/{venue_id:int}/series", guards=MANAGERS, include_in_schema=False)
async def series_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    """Preview (the default) or create (`confirm` set, after a preview) a series."""
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    data = await form_data(request)
    draft, errors = _draft(data)
    if draft is None:
        return await _series_page(actor, venue_id, values=data, errors=errors, status_code=400)
    try:
        if not data.get("confirm"):
            preview = await services.preview_series(actor, venue_id, draft)
            return await _series_page(actor, venue_id, values=data, preview=preview)
        series_id, preview = await services.create_series(actor, venue_id, draft)
    except DomainError as exc:
        return await _series_page(
            actor,
            venue_id,
            values=data,
            errors={_error_field(exc): exc.message()},
            status_code=exc.status_code,
        )
    message = gettext("Series created: {n} slots.").format(n=len(preview.made))
    if preview.outside_hours:
        message += " " + gettext("{n} of them fall outside the opening hours; check them.").format(
            n=len(preview.outside_hours)
        )
    flash(request, message)
    return Redirect(f"/series/{series_id}", status_code=303)


def _series_values(series: services.SeriesView) -> dict[str, Any]:
    return {
        "title": series.title,
        "kind": series.kind,
        "capacity": str(series.capacity),
        "start": series.start_time,
        "end": series.end_time,
        "rrule": series.rrule,
        "exdates": series.exdates.replace(",", ", "),
        "skip_holidays": "on" if series.skip_holidays else "",
        "programme_id": str(series.programme_id or ""),
        "room_id": str(series.room_id or ""),
    }


async def _series_detail(
    actor: UserView,
    series_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    cancel_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    series = await services.get_series(actor, series_id)
    venue = await venues.get_venue(series.venue_id)
    programmes, rooms = await _choices(series.venue_id)
    return Template(
        "timetable/series.html",
        context={
            "venue": venue,
            "series": series,
            "slots": await services.series_slots(series_id),
            "values": values if values is not None else _series_values(series),
            "errors": errors or {},
            "cancel_errors": cancel_errors or {},
            "programmes": programmes,
            "rooms": rooms,
            "now": clock.now(),
        },
        status_code=status_code,
    )


@get("/series/{series_id:int}", guards=MANAGERS, include_in_schema=False)
async def series_detail(actor: NamedDependency[UserView], series_id: FromPath[int]) -> Template:
    return await _series_detail(actor, series_id)


@post("/series/{series_id:int}/edit", guards=MANAGERS, include_in_schema=False)
async def series_edit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], series_id: FromPath[int]
) -> Template | Redirect:
    series = await services.get_series(actor, series_id)
    data = await form_data(request)
    draft, errors = _draft(data, first_day=series.first_day)
    if draft is None:
        return await _series_detail(actor, series_id, values=data, errors=errors, status_code=400)
    try:
        change = await services.update_series(actor, series_id, draft)
    except DomainError as exc:
        return await _series_detail(
            actor,
            series_id,
            values=data,
            errors={_error_field(exc): exc.message()},
            status_code=exc.status_code,
        )
    message = gettext("Series changed: {made} slots made, {removed} unbooked slots removed.").format(
        made=change.made, removed=change.removed
    )
    if change.kept_with_bookings:
        message += " " + gettext(
            "{n} slots with bookings keep their time and bookings; change or cancel them one by one."
        ).format(n=change.kept_with_bookings)
    flash(request, message)
    return Redirect(f"/series/{series_id}", status_code=303)


@post("/series/{series_id:int}/cancel", guards=MANAGERS, include_in_schema=False)
async def series_cancel(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], series_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    try:
        summary = await services.cancel_series(actor, series_id, _text(data, "reason"))
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _series_detail(
            actor, series_id, cancel_errors={"reason": exc.message()}, status_code=exc.status_code
        )
    flash(
        request,
        gettext(
            "Series cancelled: {slots} slots, {bookings} bookings cancelled and their teachers told."
        ).format(slots=summary.slots, bookings=summary.bookings),
    )
    return Redirect(f"/series/{series_id}", status_code=303)


async def _slot_page(
    actor: UserView,
    slot_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    cancel_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    slot = await services.slot_info(actor, slot_id)
    venue = await venues.get_venue(slot["venue"])
    starts, ends = clock.local(slot["starts_at"]), clock.local(slot["ends_at"])
    return Template(
        "timetable/slot.html",
        context={
            "venue": venue,
            "slot": slot,
            "starts": starts,
            "ends": ends,
            "started": slot["starts_at"] <= clock.now(),
            "outside_hours": await services.outside_hours(slot["venue"], slot["starts_at"], slot["ends_at"]),
            "values": values
            or {
                "start": starts.strftime("%H:%M"),
                "end": ends.strftime("%H:%M"),
                "capacity": slot["capacity"],
            },
            "errors": errors or {},
            "cancel_errors": cancel_errors or {},
        },
        status_code=status_code,
    )


@get("/slots/{slot_id:int}/manage", guards=MANAGERS, include_in_schema=False)
async def slot_manage(actor: NamedDependency[UserView], slot_id: FromPath[int]) -> Template:
    return await _slot_page(actor, slot_id)


@post("/slots/{slot_id:int}/manage", guards=MANAGERS, include_in_schema=False)
async def slot_edit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    await services.slot_info(actor, slot_id)
    data = await form_data(request)
    values = {k: _text(data, k, 8) for k in ("start", "end", "capacity")}
    capacity = _int(data, "capacity")
    try:
        start, end = check_times(values["start"], values["end"])
        if capacity is None:
            raise services.TimetableError("capacity")
        await services.edit_occurrence(actor, slot_id, start, end, capacity)
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        field = "capacity" if exc.code in ("capacity", "capacity_below_booked") else "start"
        return await _slot_page(
            actor, slot_id, values=values, errors={field: exc.message()}, status_code=exc.status_code
        )
    flash(request, gettext("Slot changed."))
    return Redirect(f"/slots/{slot_id}/manage", status_code=303)


@post("/slots/{slot_id:int}/cancel", guards=MANAGERS, include_in_schema=False)
async def slot_cancel(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    await services.slot_info(actor, slot_id)
    data = await form_data(request)
    try:
        summary = await services.cancel_slot(actor, slot_id, _text(data, "reason"))
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _slot_page(
            actor, slot_id, cancel_errors={"reason": exc.message()}, status_code=exc.status_code
        )
    flash(
        request,
        gettext(
            "Slot cancelled: {bookings} bookings cancelled, {places} places freed, {messages} teachers told."
        ).format(bookings=summary.bookings, places=summary.places, messages=summary.messages),
    )
    return Redirect(f"/slots/{slot_id}/manage", status_code=303)


# ---------------------------------------------------------------------------------------------------
# Opening hours, closures, youth days


async def _hours_page(
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await venues.get_venue(venue_id)
    week = await services.weekly_hours(venue_id)
    if values is None:
        values = {}
        for i, h in enumerate(week):
            values[f"closed_{i}"] = "on" if h is not None and h.closed else ""
            values[f"opens_{i}"] = h.opens.strftime("%H:%M") if h is not None and h.opens else "09:00"
            values[f"closes_{i}"] = h.closes.strftime("%H:%M") if h is not None and h.closes else "17:00"
    return Template(
        "timetable/hours.html",
        context={
            "venue": venue,
            "week": week,
            "configured": any(h is not None for h in week),
            "names": WEEKDAY_NAMES,
            "values": values,
            "errors": errors or {},
            "closures": await services.list_closures(venue_id, since=clock.today()),
            "youth_days": await services.list_youth_days(venue_id),
        },
        status_code=status_code,
    )


@get("/venues/{venue_id:int}/hours", guards=MANAGERS, include_in_schema=False)
async def hours_page(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    return await _hours_page(venue_id)


@post("/venues/{venue_id:int}/hours", guards=MANAGERS, include_in_schema=False)
async def hours_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    data = await form_data(request)
    days = [
        (bool(data.get(f"closed_{i}")), _text(data, f"opens_{i}", 8), _text(data, f"closes_{i}", 8))
        for i in range(7)
    ]
    try:
        await services.set_weekly_hours(actor, venue_id, days)
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _hours_page(
            venue_id, values=data, errors={"hours": exc.message()}, status_code=exc.status_code
        )
    flash(request, gettext("Opening hours saved."))
    return Redirect(f"/venues/{venue_id}/hours", status_code=303)


@post("/venues/{venue_id:int}/closures", guards=MANAGERS, include_in_schema=False)
async def closure_add(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    data = await form_data(request)
    day = _day(data, "day")
    try:
        if day is None:
            raise RuleError("exdate", value=_text(data, "day", 20) or "—")
        await services.set_closure(actor, venue_id, day, _text(data, "reason"))
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        message = gettext("Enter a date.") if day is None else exc.message()
        return await _hours_page(venue_id, errors={"closure": message}, status_code=exc.status_code)
    flash(request, gettext("Closure day added."))
    return Redirect(f"/venues/{venue_id}/hours", status_code=303)


@post("/venues/{venue_id:int}/closures/{day:date}/delete", guards=MANAGERS, include_in_schema=False)
async def closure_delete(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    day: FromPath[date],
) -> Redirect:
    await services.remove_closure(actor, venue_id, day)
    flash(request, gettext("Closure day removed."))
    return Redirect(f"/venues/{venue_id}/hours", status_code=303)


@post("/venues/{venue_id:int}/youth-days", guards=MANAGERS, include_in_schema=False)
async def youth_day_add(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    data = await form_data(request)
    weekday = _int(data, "weekday")
    try:
        await services.add_youth_day(
            actor,
            venue_id,
            weekday=weekday,
            day=_day(data, "day") if weekday is None else None,
            kind=_text(data, "kind", 16) or "free",
            note=_text(data, "note"),
        )
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _hours_page(venue_id, errors={"youth": exc.message()}, status_code=exc.status_code)
    flash(request, gettext("Youth day added."))
    return Redirect(f"/venues/{venue_id}/hours", status_code=303)


@post("/venues/{venue_id:int}/youth-days/{youth_id:int}/delete", guards=MANAGERS, include_in_schema=False)
async def youth_day_delete(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    youth_id: FromPath[int],
) -> Redirect:
    await services.remove_youth_day(actor, venue_id, youth_id)
    flash(request, gettext("Youth day removed."))
    return Redirect(f"/venues/{venue_id}/hours", status_code=303)


# ---------------------------------------------------------------------------------------------------
# Public holidays (auditors)


async def _holidays_page(
    *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    return Template(
        "timetable/holidays.html",
        context={
            "holidays": await services.list_holidays(),
            "values": values or {"day": "", "name": ""},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@get("/audit/holidays", guards=[requires_role("auditor")], include_in_schema=False)
async def holidays_page() -> Template:
    return await _holidays_page()


@post("/audit/holidays", guards=[requires_role("auditor")], include_in_schema=False)
async def holiday_add(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Template | Redirect:
    data = await form_data(request)
    values = {"day": _text(data, "day", 10), "name": _text(data, "name", 100)}
    day = _day(data, "day")
    if day is None:
        return await _holidays_page(values=values, errors={"day": gettext("Enter a date.")}, status_code=400)
    try:
        await services.set_holiday(actor, day, values["name"])
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        field = "name" if exc.code == "holiday_name" else "day"
        return await _holidays_page(values=values, errors={field: exc.message()}, status_code=exc.status_code)
    flash(request, gettext("Holiday saved."))
    return Redirect("/audit/holidays", status_code=303)


@post("/audit/holidays/{day:date}/delete", guards=[requires_role("auditor")], include_in_schema=False)
async def holiday_delete(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], day: FromPath[date]
) -> Redirect:
    await services.remove_holiday(actor, day)
    flash(request, gettext("Holiday removed."))
    return Redirect("/audit/holidays", status_code=303)


# ---------------------------------------------------------------------------------------------------
# Walk-ins (the door scan page's tally)


class WalkInPost(msgspec.Struct, forbid_unknown_fields=True):
    adults: int = 0
    youth: int = 0
    day: date | None = None
    nonce: str | None = msgspec.field(default=None)


def _walk_in_body(totals: services.WalkInTotals) -> dict[str, Any]:
    return {
        "day": totals.day.isoformat(),
        "adults": totals.adults,
        "youth": totals.youth,
        "total": totals.total,
    }


def _problem(status: int, message: str) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": message}, status_code=status, media_type=MediaType.JSON)


@get("/staff/walk-ins", guards=[requires_role("staff")], include_in_schema=False)
async def walk_in_today(actor: NamedDependency[UserView]) -> Response[dict[str, Any]]:
    if actor.venue_id is None:
        raise Forbidden("role")
    totals = await services.walk_in_totals(actor.venue_id, clock.today())
    return Response(_walk_in_body(totals), media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})


@post("/staff/walk-ins", guards=[requires_role("staff")], include_in_schema=False)
async def walk_in_add(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Response[dict[str, Any]]:
    """{"adults": ±n, "youth": ±n, "day": "YYYY-MM-DD"?, "nonce": "..."?} → the day's totals."""
    if actor.venue_id is None:
        raise Forbidden("role")
    try:
        body = msgspec.json.decode(await request.body(), type=WalkInPost)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _problem(400, gettext("The request is not valid."))
    try:
        totals = await services.record_walk_in(
            actor, adults=body.adults, youth=body.youth, day=body.day, nonce=body.nonce
        )
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        return _problem(exc.status_code, exc.message())
    return Response(_walk_in_body(totals), status_code=200, media_type=MediaType.JSON)


TIMETABLE_PAGES = [
    series_list,
    series_submit,
    series_detail,
    series_edit,
    series_cancel,
    slot_manage,
    slot_edit,
    slot_cancel,
    hours_page,
    hours_submit,
    closure_add,
    closure_delete,
    youth_day_add,
    youth_day_delete,
    holidays_page,
    holiday_add,
    holiday_delete,
    walk_in_today,
    walk_in_add,
]
