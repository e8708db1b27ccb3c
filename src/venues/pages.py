"""Venue pages: teachers browse venues and open slots; staff publish slots; auditors keep the registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core import clock
from core.db import valid_id
from core.errors import DomainError, Forbidden, NotFound
from core.forms import parse_form
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.sql import Statement
from core.web import flash, form_data
from kepu.templating import fmt_time, html_labels, html_text
from venues import programmes, services
from venues.labels import DISTRICT_LABELS, KIND_LABELS, SLOT_KIND_LABELS
from venues.schemas import (
    RULE_DEFAULTS,
    RULE_FIELDS,
    BlackoutForm,
    RulesForm,
    SlotForm,
    VenueForm,
    VenueUpdate,
)

FIELD_DEFAULTS = {
    "capacity": "",
    "title": "",
    "kind": "school_visit",
    "date": "",
    "start": "09:30",
    "end": "11:00",
}


# The catalogue of venues in one prepared statement: each venue with its open slots (not started,
# room left) counted, whatever the number of venues. Grouping by `+venue` (an expression, not the
# column) keeps SQLite from walking every slot ever published in venue order to avoid a sort; it reads
# the future slots by the starts_at index instead (1.6 → 0.1 ms at 6,000 slots).
#
# Columns read once a row are selected as expressions (`+v.id`, `COALESCE(s.starts_at, NULL)`), which
# SQLite hands back as stored: a plain column of a declared INTEGER or TIMESTAMPTZ type goes through
# Piccolo's converter for that type (int(Decimal(text)), fromisoformat()), which took as long as the
# query itself (the venue page's hundred slots: 0.4 → 1.0 ms). PostgreSQL returns the same either way.
_VENUE_CARDS = Statement(
    "SELECT +v.id AS id, v.name, v.kind, v.district, v.address,"
    " COALESCE(a.open_slots, 0) AS open_slots, COALESCE(a.places_left, 0) AS places_left, a.next_open"
    " FROM venues_venue v LEFT JOIN ("
    "   SELECT +venue AS venue, COUNT(*) AS open_slots, SUM(capacity - booked) AS places_left,"
    "   MIN(starts_at) AS next_open FROM venues_slot"
    "   WHERE starts_at > $1 AND booked < capacity AND cancelled_at IS NULL GROUP BY +venue"
    " ) a ON a.venue = v.id"
    " WHERE ($2 = '' OR v.district = $3) AND ($4 = '' OR v.kind = $5) ORDER BY v.id"
)


@dataclass(slots=True)
class VenueCard:
    """One venue of the catalogue, its text ready as HTML (escaped here, once, with
    kepu.templating.html_text; its labels translated): the catalogue lists the whole city's venues in
    a loop that does not escape again (templates/venues/list.html), since escaping each value there
    (markupsafe builds a Markup of every one) was half of the page's rendering."""

    id: int
    name: str
    kind: str
    district: str
    address: str
    open_slots: int
    places_left: int
    next_open: datetime | None


async def venue_cards(district: str, kind: str) -> list[VenueCard]:
    """The venues (of a district and kind, when given) with their open slots, in one query."""
    kinds = html_labels(KIND_LABELS)
    districts = html_labels(DISTRICT_LABELS)
    rows = await _VENUE_CARDS.fetch(clock.now(), district, district, kind, kind)
    return [
        VenueCard(
            id=r["id"],
            name=html_text(r["name"]),
            kind=kinds.get(r["kind"]) or html_text(r["kind"]),
            district=districts.get(r["district"]) or html_text(r["district"]),
            address=html_text(r["address"]),
            open_slots=int(r["open_slots"]),
            places_left=int(r["places_left"]),
            next_open=clock.stored(r["next_open"]) if r["next_open"] is not None else None,
        )
        for r in rows
    ]


@get("/venues", guards=[requires_sign_in], include_in_schema=False)
async def venue_list(
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
    kind: Annotated[str | None, QueryParameter(name="kind", max_length=32)] = None,
) -> Template:
    district = district if district in DISTRICT_LABELS else None
    kind = kind if kind in KIND_LABELS else None
    return Template(
        "venues/list.html",
        context={
            "cards": await venue_cards(district or "", kind or ""),
            "district": district or "",
            "kind": kind or "",
        },
    )


# The venue page shows four weeks of slots at a time (a phone screen's worth, and a page that stays
# cheap however far ahead a venue publishes), with links to the weeks before and after.
WINDOW_DAYS = 28

# What the venue page needs, written once as SQL (core/sql.py): the venue with the first slot after the
# shown weeks (for the "later" link), then the weeks' slots with their programme and room (the slots'
# columns as expressions: see _VENUE_CARDS).
_VENUE_HEAD = Statement(
    "SELECT v.id, v.name, v.kind, v.district, v.address,"
    " (SELECT MIN(s.starts_at) FROM venues_slot s"
    "   WHERE s.venue = v.id AND s.cancelled_at IS NULL AND s.starts_at >= $1) AS later"
    " FROM venues_venue v WHERE v.id = $2"
)
_VENUE_WINDOW = Statement(
    "SELECT +s.id AS id, COALESCE(s.starts_at, NULL) AS starts_at, COALESCE(s.ends_at, NULL) AS ends_at,"
    " s.capacity - s.booked AS remaining, s.title, s.kind,"
    " p.title AS programme_title, r.name AS room_name"
    " FROM venues_slot s LEFT JOIN venues_programme p ON p.id = s.programme"
    " LEFT JOIN venues_room r ON r.id = s.room"
    " WHERE s.venue = $1 AND s.cancelled_at IS NULL AND s.starts_at >= $2 AND s.starts_at < $3"
    " ORDER BY s.starts_at, s.id"
)


@dataclass(slots=True)
class SlotLine:
    """One slot of the venue page, its text ready as HTML (escaped here, once, with
    kepu.templating.html_text).

    The page lists up to four weeks of slots, a hundred at a busy venue; escaping each value again in
    the template's loop (markupsafe builds a Markup of every one, ~1 µs) was half of the page's
    rendering, so that loop runs with autoescaping off (templates/venues/detail.html) and takes these
    as they are.
    """

    id: int
    when: str  # "09:30–11:00": digits only, nothing to escape
    label: str  # the title, and the room after a dot when there is one
    full: bool
    places: str  # "12 places left", translated


@dataclass(slots=True)
class SlotDay:
    day: date
    slots: list[SlotLine]


def _window_start(on: str | None) -> date:
    try:
        start = date.fromisoformat(on or "")
    except ValueError:
        return clock.today()
    return start if clock.in_range(start) and start > clock.today() else clock.today()


async def venue_window(venue_id: int, start: date) -> tuple[dict[str, Any], list[SlotDay]]:
    """The venue and its slots (not cancelled, not yet started) from `start` for WINDOW_DAYS, by day."""
    if not valid_id(venue_id):
        raise NotFound("venue")
    end = clock.day_bounds(start + timedelta(days=WINDOW_DAYS))[0]
    venue = await _VENUE_HEAD.fetchrow(end, venue_id)
    if venue is None:
        raise NotFound("venue")
    begin = clock.now() if start <= clock.today() else clock.day_bounds(start)[0]
    rows = await _VENUE_WINDOW.fetch(venue_id, begin, end)
    # The translated texts and the escaped titles, once a page: a venue's slots share a few of each.
    places = html_text(gettext("%(n)s places left"))
    labels: dict[tuple[str, str, str, str], str] = {}
    days: list[SlotDay] = []
    day = None
    for row in rows:
        starts, ends = clock.local(clock.stored(row["starts_at"])), clock.local(clock.stored(row["ends_at"]))
        key = (row["title"] or "", row["programme_title"] or "", row["kind"], row["room_name"] or "")
        label = labels.get(key)
        if label is None:
            label = labels[key] = _slot_label(*key)
        remaining = row["remaining"]
        if starts.date() != day:
            day = starts.date()
            days.append(SlotDay(day, []))
        days[-1].slots.append(
            SlotLine(
                id=row["id"],
                when=f"{fmt_time(starts)}–{fmt_time(ends)}",
                label=label,
                full=remaining <= 0,
                places=places % {"n": remaining},
            )
        )
    later = venue.pop("later")
    venue["later"] = clock.local(clock.stored(later)).date() if later is not None else None
    return venue, days


def _slot_label(title: str, programme_title: str, kind: str, room: str) -> str:
    """A slot's name on the venue page as HTML (its title, else its programme's, else its kind's), then
    its room."""
    name = title or programme_title or (gettext(SLOT_KIND_LABELS[kind]) if kind in SLOT_KIND_LABELS else kind)
    return f"{html_text(name)} · {html_text(room)}" if room else html_text(name)


@get("/venues/{venue_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def venue_detail(
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    on: Annotated[str | None, QueryParameter(name="date", max_length=10)] = None,
) -> Template:
    start = _window_start(on)
    venue, days = await venue_window(venue_id, start)
    today = clock.today()
    return Template(
        "venues/detail.html",
        context={
            "venue": venue,
            "days": days,
            "start": start,
            "last": start + timedelta(days=WINDOW_DAYS - 1),
            "earlier": max(today, start - timedelta(days=WINDOW_DAYS)) if start > today else None,
            "later": venue["later"],
            "can_manage": services.can_manage(actor, venue_id),
        },
    )


def _slot_form_values(data: dict[str, Any]) -> dict[str, Any]:
    """The page asks for a date and two times; the service takes two local instants."""
    day, start, end = (str(data.get(k) or "").strip() for k in ("date", "start", "end"))
    # <input type="time"> sends HH:MM; RFC 3339 wants the seconds too.
    start, end = (t + ":00" if len(t) == 5 else t for t in (start, end))
    return {
        "starts_at": f"{day}T{start}" if day and start else "",
        "ends_at": f"{day}T{end}" if day and end else "",
        "capacity": data.get("capacity"),
        "title": data.get("title") or "",
        "kind": data.get("kind") or "school_visit",
    }


async def _dashboard(
    actor: UserView,
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await services.get_venue(venue_id)
    today_start, _ = clock.day_bounds(clock.today())
    slots = await services.list_slots(
        venue_id, starts_from=today_start, starts_before=today_start + timedelta(days=60)
    )
    return Template(
        "venues/dashboard.html",
        context={
            "venue": venue,
            "slots": slots,
            "today": clock.today(),
            "values": values or {**FIELD_DEFAULTS, "date": (clock.today() + timedelta(days=7)).isoformat()},
            "errors": errors or {},
            "staff": await services.list_staff(venue_id),
            "programmes": await programmes.list_programmes(venue_id),
            "rooms": await programmes.list_rooms(venue_id),
        },
        status_code=status_code,
    )


def _staff_venue(actor: UserView) -> int:
    if actor.venue_id is None:
        raise Forbidden("role")
    return actor.venue_id


@get("/staff", guards=[requires_role("staff")], include_in_schema=False)
async def staff_dashboard(actor: NamedDependency[UserView]) -> Template:
    return await _dashboard(actor, _staff_venue(actor))


@post("/venues/{venue_id:int}/slots/new", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def slot_create(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    services.require_manager(actor, venue_id)
    form, errors = parse_form(SlotForm, _slot_form_values(data))
    if form is None:
        # The page's fields are date/start/end; point a problem with an instant at the date.
        errors = {("date" if k in ("starts_at", "ends_at") else k): v for k, v in errors.items()}
        return await _dashboard(actor, venue_id, values=data, errors=errors, status_code=400)
    try:
        slot = await programmes.publish_slot(
            actor,
            venue_id,
            form,
            programmes.optional_id(data.get("programme_id")),
            programmes.optional_id(data.get("room_id")),
        )
    except DomainError as exc:
        field = programmes.SLOT_LINK_FIELDS.get(exc.code, "date")
        return await _dashboard(
            actor, venue_id, values=data, errors={field: exc.message()}, status_code=exc.status_code
        )
    flash(
        request,
        gettext("Slot published: {when}, {capacity} places.").format(
            when=slot.starts_at.strftime("%Y-%m-%d %H:%M"), capacity=slot.capacity
        ),
    )
    return Redirect("/staff" if actor.is_staff else f"/audit/venues/{venue_id}", status_code=303)


@get("/audit/venues", guards=[requires_role("auditor")], include_in_schema=False)
async def registry(
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
) -> Template:
    district = district if district in DISTRICT_LABELS else None
    return Template(
        "venues/registry.html",
        context={
            "venues": await services.list_venues(district=district),
            "district": district or "",
            "values": {},
            "errors": {},
        },
    )


@post("/audit/venues", guards=[requires_role("auditor")], include_in_schema=False)
async def registry_create(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(
        VenueForm, data, blank_as_none=("arrival_before_start_minutes", "arrival_after_end_minutes")
    )
    if form is None:
        return Template(
            "venues/registry.html",
            context={
                "venues": await services.list_venues(),
                "district": "",
                "values": data,
                "errors": errors,
            },
            status_code=400,
        )
    venue = await services.create_venue(actor, form)
    flash(
        request,
        gettext("Venue registered: {name}. Now create a staff account for it.").format(name=venue.name),
    )
    return Redirect(f"/audit/venues/{venue.id}", status_code=303)


async def _venue_admin(
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await services.get_venue(venue_id)
    today_start, _ = clock.day_bounds(clock.today())
    return Template(
        "venues/admin.html",
        context={
            "venue": venue,
            "staff": await services.list_staff(venue_id),
            "slots": await services.list_slots(
                venue_id, starts_from=today_start, starts_before=today_start + timedelta(days=60)
            ),
            "values": values or {},
            "errors": errors or {},
            "slot_values": {**FIELD_DEFAULTS, "date": (clock.today() + timedelta(days=7)).isoformat()},
            "programmes": await programmes.list_programmes(venue_id),
            "rooms": await programmes.list_rooms(venue_id),
        },
        status_code=status_code,
    )


@get("/audit/venues/{venue_id:int}", guards=[requires_role("auditor")], include_in_schema=False)
async def venue_admin(venue_id: FromPath[int]) -> Template:
    return await _venue_admin(venue_id)


@post("/audit/venues/{venue_id:int}/staff", guards=[requires_role("auditor")], include_in_schema=False)
async def staff_create(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    username = str(data.get("username") or "").strip()
    password = str(data.get("password") or "")
    role = str(data.get("role") or "door")
    if role not in ("door", "supervisor"):
        role = "door"
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = gettext("Please fill this in.")
    if not password:
        errors["password"] = gettext("Please fill this in.")
    if not errors:
        try:
            await services.create_staff_user(
                actor,
                venue_id,
                username[:150],
                password[:1024],
                str(data.get("display_name") or "")[:200],
                role,
            )
        except DomainError as exc:
            field = "password" if exc.code == "short_password" else "username"
            errors[field] = exc.message()
    if errors:
        return await _venue_admin(venue_id, values=data, errors=errors, status_code=400)
    flash(request, gettext("Staff account {username} created.").format(username=username))
    return Redirect(f"/audit/venues/{venue_id}", status_code=303)


async def _rules_page(
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    blackout_values: dict[str, Any] | None = None,
    blackout_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await services.get_venue(venue_id)
    current = {f: getattr(venue, f) for f in RULE_FIELDS}
    # A venue with no rule at all is setting its rules up: propose domain.md's defaults.
    proposing = values is None and all(v is None for v in current.values())
    return Template(
        "venues/rules.html",
        context={
            "venue": venue,
            "values": values
            if values is not None
            else {
                **(dict(RULE_DEFAULTS) if proposing else current),
                "door_ratio_policy": venue.door_ratio_policy,
            },
            "proposing": proposing,
            "errors": errors or {},
            "blackouts": await services.list_blackouts(venue_id, since=clock.today()),
            "blackout_values": blackout_values or {"day": "", "reason": ""},
            "blackout_errors": blackout_errors or {},
        },
        status_code=status_code,
    )


@get("/venues/{venue_id:int}/rules", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def rules_page(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await services.get_venue(venue_id)
    services.require_manager(actor, venue_id)
    return await _rules_page(venue_id)


@post("/venues/{venue_id:int}/rules", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def rules_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await services.get_venue(venue_id)
    services.require_manager(actor, venue_id)
    data = await form_data(request)
    fields = {k: data.get(k) for k in (*RULE_FIELDS, "door_ratio_policy")}
    form, errors = parse_form(RulesForm, fields, blank_as_none=(*RULE_FIELDS, "door_ratio_policy"))
    if form is None:
        return await _rules_page(venue_id, values=fields, errors=errors, status_code=400)
    try:
        await services.update_venue(
            actor,
            venue_id,
            VenueUpdate(
                **{f: getattr(form, f) for f in RULE_FIELDS}, door_ratio_policy=form.door_ratio_policy
            ),
        )
    except DomainError as exc:
        field = "group_min" if exc.code == "group_bounds" else "min_lead_days"
        return await _rules_page(
            venue_id, values=fields, errors={field: exc.message()}, status_code=exc.status_code
        )
    flash(request, gettext("Booking rules saved. They apply to bookings made from now on."))
    return Redirect(f"/venues/{venue_id}/rules", status_code=303)


@post("/venues/{venue_id:int}/blackouts", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def blackout_add(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await services.get_venue(venue_id)
    services.require_manager(actor, venue_id)
    data = await form_data(request)
    values = {"day": data.get("day") or "", "reason": data.get("reason") or ""}
    form, errors = parse_form(BlackoutForm, values)
    if form is not None:
        try:
            await services.set_blackout(actor, venue_id, form)
        except DomainError as exc:
            errors = {"day": exc.message()}
    if errors:
        if "day" in errors and form is None:
            errors = {"day": gettext("Enter a date.")}
        return await _rules_page(venue_id, blackout_values=values, blackout_errors=errors, status_code=400)
    flash(request, gettext("Blackout day added."))
    return Redirect(f"/venues/{venue_id}/rules", status_code=303)


@post(
    "/venues/{venue_id:int}/blackouts/{day:date}/delete",
    guards=[requires_role("staff", "auditor")],
    include_in_schema=False,
)
async def blackout_delete(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    day: FromPath[date],
) -> Redirect:
    await services.remove_blackout(actor, venue_id, day)
    flash(request, gettext("Blackout day removed."))
    return Redirect(f"/venues/{venue_id}/rules", status_code=303)


PAGES = [
    rules_page,
    rules_submit,
    blackout_add,
    blackout_delete,
    venue_list,
    venue_detail,
    staff_dashboard,
    slot_create,
    registry,
    registry_create,
    venue_admin,
    staff_create,
]
